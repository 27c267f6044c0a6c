"""``ParallelRunConfig``: how a ``ParallelRunStep`` runs an entry script over its input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["ParallelRunConfig"]

OUTPUT_ACTIONS = ("append_row", "summary_only")
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_APPEND_ROW_FILE = "parallel_run_step.txt"
#: mini_batch_size when none is given: files of a FileDataset, bytes of a TabularDataset.
DEFAULT_FILE_BATCH = 10
DEFAULT_TABULAR_BATCH = "1MB"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


class ParallelRunConfig:
    """Settings of a ``ParallelRunStep``: ``entry_script`` (in ``source_directory``) defines
    ``init()``, called once in each worker process, and ``run(mini_batch)``, called for each
    mini-batch of the input: a list of local file paths for a FileDataset, a pandas DataFrame
    for a TabularDataset. ``run`` returns a list (or DataFrame) with one result per item.

    ``mini_batch_size``: files per mini-batch for a FileDataset (default 10), an approximate
    size for a TabularDataset (``'1MB'``, ``'256KB'``, or a number of bytes; default 1 MB).
    ``process_count_per_node`` worker processes (default: this machine's CPUs) take
    mini-batches from a queue; a ``run()`` that raises, or takes longer than
    ``run_invocation_timeout`` seconds (its worker is then killed and replaced), is tried
    again up to ``run_max_try`` times in all, after which its items count as failed; items
    ``run()`` returns no result for count as failed too. The step fails as soon as more than
    ``error_threshold`` items (-1: any number), more than ``allowed_failed_count`` mini-batches
    or more than ``allowed_failed_percent`` percent of them have failed.

    ``output_action='append_row'`` appends every result, in the input's order, as a line of
    ``append_row_file_name`` (default ``parallel_run_step.txt``) in the step's output;
    ``'summary_only'`` keeps no results (the script writes what it needs itself).

    All processes run on the node of the step's run; ``node_count`` above 1 is recorded, and
    the step's log says so."""

    def __init__(self, environment: Any, entry_script: str, error_threshold: int,
                 output_action: str, compute_target: Any, node_count: int,
                 process_count_per_node: int | None = None, mini_batch_size: Any = None,
                 source_directory: str | None = None, description: str | None = None,
                 logging_level: str = "INFO", run_invocation_timeout: int = 60,
                 run_max_try: int = 3, append_row_file_name: str | None = None,
                 allowed_failed_count: int | None = None,
                 allowed_failed_percent: float | None = None, partition_keys: Any = None,
                 environment_variables: Mapping[str, str] | None = None):
        if not isinstance(entry_script, str) or not entry_script.strip():
            raise UserErrorException(
                "entry_script is required: the script defining init() and run(mini_batch), "
                "e.g. entry_script='batch_diabetes.py'."
            )
        if output_action not in OUTPUT_ACTIONS:
            raise UserErrorException(
                f"output_action={output_action!r} must be 'append_row' or 'summary_only'."
            )
        if partition_keys:
            raise UserErrorException(
                "partition_keys is not supported; mini-batches are made by mini_batch_size."
            )
        if not isinstance(logging_level, str) or logging_level.upper() not in LOGGING_LEVELS:
            raise UserErrorException(
                f"logging_level={logging_level!r} must be one of {', '.join(LOGGING_LEVELS)}."
            )
        if append_row_file_name is not None and (
                not isinstance(append_row_file_name, str) or not append_row_file_name.strip()
                or "/" in append_row_file_name or "\\" in append_row_file_name
                or append_row_file_name in (".", "..")):
            raise UserErrorException(
                f"append_row_file_name={append_row_file_name!r} must be a file name without "
                "folders, e.g. 'results.txt'."
            )
        if source_directory is not None and not isinstance(source_directory, str):
            source_directory = str(source_directory)
        if environment_variables is not None and not isinstance(environment_variables, Mapping):
            raise UserErrorException("environment_variables must be a dict of names to values.")
        self.environment = environment
        self.entry_script = entry_script
        self.error_threshold = _integer(error_threshold, "error_threshold", -1)
        self.output_action = output_action
        self.compute_target = compute_target
        self.node_count = _integer(node_count, "node_count", 1)
        self.process_count_per_node = (
            None if process_count_per_node is None
            else _integer(process_count_per_node, "process_count_per_node", 1))
        self.mini_batch_size = _mini_batch_size(mini_batch_size)
        self.source_directory = source_directory
        self.description = description
        self.logging_level = logging_level.upper()
        self.run_invocation_timeout = _integer(run_invocation_timeout,
                                               "run_invocation_timeout", 1)
        self.run_max_try = _integer(run_max_try, "run_max_try", 1)
        self.append_row_file_name = append_row_file_name or DEFAULT_APPEND_ROW_FILE
        self.allowed_failed_count = (
            None if allowed_failed_count is None
            else _integer(allowed_failed_count, "allowed_failed_count", -1))
        self.allowed_failed_percent = (
            None if allowed_failed_percent is None else _percent(allowed_failed_percent))
        self.partition_keys = None
        self.environment_variables = {str(k): str(v)
                                      for k, v in (environment_variables or {}).items()}

    def __repr__(self) -> str:
        return (f"ParallelRunConfig(entry_script={self.entry_script!r}, "
                f"output_action={self.output_action!r}, "
                f"mini_batch_size={self.mini_batch_size!r}, "
                f"process_count_per_node={self.process_count_per_node!r})")


def parse_size(value: Any) -> int | None:
    """Bytes of a size such as ``'1MB'``, ``'512KB'``, ``'100'`` or ``4096``; None if it is
    not one. Units are powers of 1024."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    match = _SIZE.match(str(value))
    if not match:
        return None
    number = float(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]
    return int(number) if number >= 1 else None


def file_batch_size(value: Any) -> int | None:
    """Files per mini-batch, or None if ``value`` is not a positive whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = str(value).strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _is_parameter(value: Any) -> bool:
    from plinth.pipeline.core.graph import PipelineParameter

    return isinstance(value, PipelineParameter)


def _integer(value: Any, name: str, minimum: int) -> Any:
    checked = value.default_value if _is_parameter(value) else value
    if isinstance(checked, bool) or not isinstance(checked, int) or checked < minimum:
        raise UserErrorException(
            f"{name}={checked!r} must be a whole number of at least {minimum}."
        )
    return value


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise UserErrorException(
            f"allowed_failed_percent={value!r} must be a number from 0 to 100."
        )
    return float(value)


def _mini_batch_size(value: Any) -> Any:
    if value is None:
        return None
    checked = value.default_value if _is_parameter(value) else value
    if parse_size(checked) is None:
        raise UserErrorException(
            f"mini_batch_size={checked!r} must be a number of files (e.g. 10, or '10') for a "
            "FileDataset, or a size (e.g. '1MB', '512KB') for a TabularDataset."
        )
    return value
