"""``ParallelRunStep``: batch inference, an entry script run over mini-batches of a dataset
by several worker processes, as a pipeline step."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from plinth.core.runconfig import RunConfiguration
from plinth.exceptions import UserErrorException
from plinth.pipeline.core.builder import PipelineStep
from plinth.pipeline.steps.parallel_run_config import (
    ParallelRunConfig,
    file_batch_size,
    parse_size,
)
from plinth.pipeline.steps.python_script_step import check_arguments, script_step_definition

__all__ = ["ParallelRunStep"]

ENGINE = "plinth._serving.batch"


class ParallelRunStep(PipelineStep):
    """Runs ``parallel_run_config``'s entry script over ``inputs``: one dataset input (or
    several of one kind) such as ``file_ds.as_named_input('batch_data')`` (mounted; its
    mini-batches are lists of local file paths) or ``tabular_ds.as_named_input('rows')``
    (mini-batches are pandas DataFrames), or a ``PipelineData``/``OutputFileDatasetConfig``
    an earlier step wrote. ``output`` (a PipelineData or OutputFileDatasetConfig) receives
    the results file with ``output_action='append_row'``; without one the file is in the
    step run's ``outputs/``. ``side_inputs`` are made available too (pass them in
    ``arguments`` to learn their local paths); ``arguments`` reach the entry script as
    ``sys.argv[1:]``. The config's environment and compute target are the step run's."""

    _kind = "ParallelRunStep"

    def __init__(self, name: str, parallel_run_config: ParallelRunConfig,
                 inputs: Sequence[Any], output: Any = None,
                 side_inputs: Sequence[Any] | None = None,
                 arguments: Sequence[Any] | None = None, allow_reuse: bool = True):
        if not isinstance(parallel_run_config, ParallelRunConfig):
            raise UserErrorException(
                "parallel_run_config must be a ParallelRunConfig, got "
                f"{type(parallel_run_config).__name__}."
            )
        check_arguments(arguments)
        config = parallel_run_config
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (list, tuple)) \
                or not inputs:
            raise UserErrorException(
                "inputs must be a list of one dataset input, e.g. "
                "[file_ds.as_named_input('batch_data')]."
            )
        batch_inputs = [_batch_input(item) for item in inputs]
        kinds = {kind for kind, _, _ in batch_inputs}
        if len(kinds) > 1:
            raise UserErrorException(
                "inputs must all be file datasets or all tabular datasets, not a mix."
            )
        kind = kinds.pop()
        _check_mini_batch_size(config.mini_batch_size, kind)
        if output is not None and not hasattr(output, "_output_port"):
            raise UserErrorException(
                "output must be a PipelineData or OutputFileDatasetConfig, got "
                f"{type(output).__name__}."
            )
        if output is not None and hasattr(output, "as_upload") and output._is_input:
            raise UserErrorException(
                "output is an input (as_input()); pass the OutputFileDatasetConfig itself."
            )
        side = list(side_inputs or [])
        self.parallel_run_config = config
        self.inputs = list(inputs)
        self.output = output
        self.side_inputs = side
        self.arguments = list(arguments or [])
        self._source_directory, script = _where(config)
        command: list[Any] = [
            "python", "-m", ENGINE, "--entry-script", script,
            "--output-action", config.output_action,
            "--append-row-file-name", config.append_row_file_name,
            "--error-threshold", config.error_threshold,
            "--run-invocation-timeout", config.run_invocation_timeout,
            "--run-max-try", config.run_max_try,
            "--node-count", config.node_count,
            "--logging-level", config.logging_level,
        ]
        if config.mini_batch_size is not None:
            command += ["--mini-batch-size", config.mini_batch_size]
        if config.process_count_per_node is not None:
            command += ["--process-count-per-node", config.process_count_per_node]
        if config.allowed_failed_count is not None:
            command += ["--allowed-failed-count", config.allowed_failed_count]
        if config.allowed_failed_percent is not None:
            command += ["--allowed-failed-percent", config.allowed_failed_percent]
        for item_kind, input_name, item in batch_inputs:
            command += ["--input", item_kind, input_name, item]
        if output is not None:
            command += ["--output", output]
        command += ["--", *self.arguments]
        outputs = [output] if output is not None else []
        step_inputs = [item for _, _, item in batch_inputs] + side
        super().__init__(name, step_inputs, outputs, command, allow_reuse)

    def _run_definition(self, default_source_directory: str | None) -> dict[str, Any]:
        config = self.parallel_run_config
        source = self._source_directory or default_source_directory
        script = self._arguments[self._arguments.index("--entry-script") + 1]
        if source is not None and not os.path.isfile(os.path.join(source, script)):
            raise UserErrorException(
                f"Step {self.name!r}: entry_script {script!r} is not in source_directory "
                f"{source!r}."
            )
        runconfig = RunConfiguration()
        runconfig.environment = config.environment
        runconfig.environment_variables = dict(config.environment_variables)
        runconfig.target = config.compute_target or "local"
        definition = script_step_definition(
            self, source_directory=source, script=None, command=self._arguments,
            runconfig=runconfig, compute_target=config.compute_target, params={})
        if config.description:
            definition["description"] = config.description
        return definition


def _where(config: ParallelRunConfig) -> tuple[str | None, str]:
    """The source folder (None: the pipeline's default) and the entry script in it. Without
    source_directory, an entry_script that is a path to a file names its own folder."""
    script = config.entry_script.replace("\\", "/")
    if config.source_directory is not None:
        return config.source_directory, script
    if os.path.isabs(script) and os.path.isfile(script):
        return os.path.dirname(script), os.path.basename(script)
    return None, script


def _batch_input(item: Any) -> tuple[str, str, Any]:
    """(kind, name, input): how the engine reads one of the step's inputs. A file dataset is
    mounted; a tabular dataset passed directly (its id)."""
    if hasattr(item, "as_named_input") and hasattr(item, "_kind"):  # a dataset itself
        item = item.as_named_input(item._input_spec()["name"])  # named as for a script
    if hasattr(item, "_input_spec") and hasattr(item, "dataset"):  # a dataset input
        kind = item.dataset._kind
        if kind == "file" and item.mode == "direct":
            item = item.as_mount(item.path_on_compute)
        return kind, item.name, item
    if hasattr(item, "_input_spec"):  # a DataReference: a folder or file of a datastore
        if getattr(item, "mode", None) == "upload":
            item = item.as_download()
        return "file", item.data_reference_name, item
    if hasattr(item, "_input_port"):
        if not item._is_input and hasattr(item, "as_input"):
            item = item.as_input()
        kind = "tabular" if getattr(item, "_dataset_kind", None) == "tabular" else "file"
        return kind, item._input_name or item.name, item
    raise UserErrorException(
        "inputs take datasets (ds.as_named_input('batch_data')), PipelineData and "
        f"OutputFileDatasetConfig objects, got {item!r}."
    )


def _check_mini_batch_size(value: Any, kind: str) -> None:
    from plinth.pipeline.core.graph import PipelineParameter

    checked = value.default_value if isinstance(value, PipelineParameter) else value
    if checked is None:
        return
    if kind == "file" and file_batch_size(checked) is None:
        raise UserErrorException(
            f"mini_batch_size={checked!r}: for a FileDataset it is a number of files, e.g. "
            "10 or '10'."
        )
    if kind == "tabular" and parse_size(checked) is None:
        raise UserErrorException(
            f"mini_batch_size={checked!r}: for a TabularDataset it is a size, e.g. '1MB'."
        )
