"""``DataTransferStep``: copy data between datastores as a pipeline step."""

from __future__ import annotations

import tempfile
from typing import Any

from plinth.exceptions import UserErrorException
from plinth.pipeline.core.builder import PipelineStep

__all__ = ["DataTransferStep"]


class DataTransferStep(PipelineStep):
    """Copies ``source_data_reference`` (a DataReference, PipelineData, file dataset input or
    OutputFileDatasetConfig) to ``destination_data_reference`` (a DataReference, PipelineData
    or OutputFileDatasetConfig). Azure Data Factory is not needed: the copy runs as a step run
    on this machine, so ``compute_target`` (a Data Factory) is accepted and not used."""

    _kind = "DataTransferStep"

    def __init__(self, name: str, source_data_reference: Any = None,
                 destination_data_reference: Any = None, compute_target: Any = None,
                 source_reference_type: str | None = None,
                 destination_reference_type: str | None = None, allow_reuse: bool = True):
        if source_data_reference is None or destination_data_reference is None:
            raise UserErrorException(
                "DataTransferStep needs source_data_reference and destination_data_reference."
            )
        for ref_type, argument in ((source_reference_type, "source_reference_type"),
                                   (destination_reference_type, "destination_reference_type")):
            if ref_type not in (None, "file", "directory"):
                raise UserErrorException(f"{argument}={ref_type!r} must be 'file' or 'directory'.")
        source = _source(source_data_reference)
        destination = _destination(destination_data_reference)
        outputs = [destination] if hasattr(destination, "_output_port") else []
        inputs = [source]
        super().__init__(name, inputs, outputs, [source, destination], allow_reuse)
        self.source_data_reference = source_data_reference
        self.destination_data_reference = destination_data_reference

    def _run_definition(self, default_source_directory: str | None) -> dict[str, Any]:
        from plinth.core.runconfig import ScriptRunConfig

        with tempfile.TemporaryDirectory(prefix="plinth-transfer-") as empty:
            config = ScriptRunConfig(
                empty, command=["python", "-m", "plinth._pipelines.copy", *self._arguments])
            definition = config._run_definition()
        definition["source_directory"] = None
        definition["display_name"] = self.name
        return definition


def _source(reference: Any) -> Any:
    if hasattr(reference, "_output_port") and not reference._is_input:
        return reference.as_input() if hasattr(reference, "as_input") else reference
    if getattr(reference, "mode", None) == "upload":
        return reference.as_download()
    if hasattr(reference, "_input_spec") and getattr(reference, "mode", None) == "direct":
        raise UserErrorException(
            "source_data_reference: a dataset must be read as files, e.g. "
            "ds.as_named_input('raw').as_download()."
        )
    if not (hasattr(reference, "_input_spec") or hasattr(reference, "_input_port")):
        raise UserErrorException(
            f"source_data_reference must be a DataReference, PipelineData, dataset input or "
            f"OutputFileDatasetConfig, got {type(reference).__name__}."
        )
    return reference


def _destination(reference: Any) -> Any:
    if hasattr(reference, "_output_port"):
        return reference
    if hasattr(reference, "as_upload") and hasattr(reference, "data_reference_name"):
        return reference.as_upload(overwrite=True)
    raise UserErrorException(
        "destination_data_reference must be a DataReference (datastore.path('folder')), "
        f"PipelineData or OutputFileDatasetConfig, got {type(reference).__name__}."
    )
