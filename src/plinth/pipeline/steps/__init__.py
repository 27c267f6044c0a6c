"""Pipeline steps (azureml's ``azureml.pipeline.steps``)."""

from plinth.pipeline.steps.command_step import CommandStep
from plinth.pipeline.steps.data_transfer_step import DataTransferStep
from plinth.pipeline.steps.estimator_step import EstimatorStep
from plinth.pipeline.steps.parallel_run_config import ParallelRunConfig
from plinth.pipeline.steps.parallel_run_step import ParallelRunStep
from plinth.pipeline.steps.python_script_step import PythonScriptStep

__all__ = ["CommandStep", "DataTransferStep", "EstimatorStep", "ParallelRunConfig",
           "ParallelRunStep", "PythonScriptStep"]
