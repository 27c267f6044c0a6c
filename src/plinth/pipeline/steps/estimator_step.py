"""``EstimatorStep``: run an estimator as a pipeline step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plinth.exceptions import UserErrorException
from plinth.pipeline.core.builder import PipelineStep
from plinth.pipeline.steps.python_script_step import check_arguments, script_step_definition

__all__ = ["EstimatorStep"]


class EstimatorStep(PipelineStep):
    """Runs ``estimator``'s entry script, in its environment, with its ``script_params``
    followed by ``estimator_entry_script_arguments``."""

    _kind = "EstimatorStep"

    def __init__(self, name: str | None = None, estimator: Any = None,
                 estimator_entry_script_arguments: Sequence[Any] | None = None,
                 runconfig_pipeline_params: Mapping[str, Any] | None = None,
                 inputs: Sequence[Any] | None = None, outputs: Sequence[Any] | None = None,
                 compute_target: Any = None, allow_reuse: bool = True,
                 version: str | None = None):
        from plinth.train.estimator import Estimator, script_params_to_arguments

        if not isinstance(estimator, Estimator):
            raise UserErrorException(
                "estimator is required: an Estimator or SKLearn object, got "
                f"{type(estimator).__name__}."
            )
        if runconfig_pipeline_params:
            raise UserErrorException(
                "runconfig_pipeline_params is not supported; pass PipelineParameters in "
                "estimator_entry_script_arguments instead."
            )
        check_arguments(estimator_entry_script_arguments)
        arguments = [*script_params_to_arguments(estimator.script_params),
                     *(estimator_entry_script_arguments or [])]
        super().__init__(name or estimator.entry_script, [*estimator.inputs, *(inputs or [])],
                         outputs, arguments, allow_reuse)
        self.estimator = estimator
        self.compute_target = compute_target

    def _run_definition(self, default_source_directory: str | None) -> dict[str, Any]:
        estimator = self.estimator
        definition = script_step_definition(
            self, source_directory=estimator.source_directory, script=estimator.entry_script,
            command=None, runconfig=estimator.run_config,
            compute_target=self.compute_target or estimator.run_config.target, params={})
        definition["estimator"] = type(estimator).__name__
        return definition
