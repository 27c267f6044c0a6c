"""Building, running, publishing and scheduling pipelines (azureml's ``azureml.pipeline.core``)."""

from plinth.pipeline.core.builder import PipelineData, PipelineStep
from plinth.pipeline.core.graph import PipelineParameter
from plinth.pipeline.core.pipeline import Pipeline
from plinth.pipeline.core.published import PipelineEndpoint, PublishedPipeline
from plinth.pipeline.core.run import PipelineRun, PortDataReference, StepRun
from plinth.pipeline.core.schedule import Schedule, ScheduleRecurrence, TimeZone

__all__ = [
    "Pipeline",
    "PipelineData",
    "PipelineEndpoint",
    "PipelineParameter",
    "PipelineRun",
    "PipelineStep",
    "PortDataReference",
    "PublishedPipeline",
    "Schedule",
    "ScheduleRecurrence",
    "StepRun",
    "TimeZone",
]
