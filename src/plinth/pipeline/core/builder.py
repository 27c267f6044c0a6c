"""``PipelineData`` (data passed between steps) and ``PipelineStep``, the base of all steps."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from plinth.data._ports import Port as _Port
from plinth.data._ports import check_port_name
from plinth.exceptions import UserErrorException

__all__ = ["PipelineData", "PipelineStep"]

PIPELINE_DATA_PATH = "azureml/{run-id}/{output-name}"


class PipelineData(_Port):
    """Intermediate data in a datastore (the workspace's default unless ``datastore``),
    written by the step that lists it in ``outputs`` and read by the steps that list it in
    ``inputs``. As a step argument it is the local folder. A run's data lands at
    ``azureml/<step run id>/<name>`` on the datastore.

    ``output_mode`` ``'mount'`` and ``'upload'`` both mean: the script writes the folder and,
    when it succeeds, its files are copied to the datastore (a failed step leaves none)."""

    def __init__(self, name: str, datastore: Any = None, output_name: str | None = None,
                 output_mode: str = "mount", output_path_on_compute: str | None = None,
                 output_overwrite: bool | None = None, data_type: str | None = None,
                 is_directory: bool | None = None, pipeline_output_name: str | None = None,
                 training_output: Any = None):
        check_port_name(name)
        if output_mode not in ("mount", "upload"):
            raise UserErrorException(
                f"output_mode={output_mode!r} must be 'mount' or 'upload'."
            )
        if datastore is not None and not hasattr(datastore, "datastore_type"):
            raise UserErrorException(
                "datastore must be a Datastore (ws.get_default_datastore() or "
                f"Datastore.get(ws, name)), got {type(datastore).__name__}."
            )
        self.name = name
        self.datastore = datastore
        self.output_mode = output_mode
        self.output_path_on_compute = output_path_on_compute
        self._data_id = uuid.uuid4().hex
        self._producers: list[PipelineStep] = []
        self._input_mode = "mount"

    @property
    def datastore_name(self) -> str | None:
        return self.datastore.name if self.datastore is not None else None

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None) -> "PipelineData":
        """Read as a copy downloaded before the consuming script starts."""
        return self._copy(_input_name=input_name and check_port_name(input_name, "input_name"),
                          _input_mode="download", _path_on_compute=path_on_compute)

    def as_mount(self, input_name: str | None = None) -> "PipelineData":
        """Read in place (or through a local copy where the datastore is not on this machine)."""
        return self._copy(_input_name=input_name and check_port_name(input_name, "input_name"),
                          _input_mode="mount")

    def as_input(self, input_name: str) -> "PipelineData":
        return self.as_mount(input_name)

    def _output_port(self) -> dict[str, Any]:
        return {"data_id": self._data_id, "name": self.name, "kind": "pipeline_data",
                "datastore": self.datastore_name, "path": PIPELINE_DATA_PATH,
                "path_on_compute": self.output_path_on_compute, "register": None}

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"

    def __repr__(self) -> str:
        return (f"PipelineData(name={self.name!r}, datastore={self.datastore_name!r}, "
                f"output_mode={self.output_mode!r})")


class PipelineStep:
    """A step of a pipeline: one child run of each pipeline run. Subclasses say what runs
    (``_run_definition``); this class keeps the wiring: inputs, outputs, parameters and
    ``run_after``."""

    _kind = "PipelineStep"

    def __init__(self, name: str | None, inputs: Sequence[Any] | None,
                 outputs: Sequence[Any] | None, arguments: Sequence[Any] | None = None,
                 allow_reuse: bool = True):
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise UserErrorException(f"name={name!r} must be a non-empty string.")
        if not isinstance(allow_reuse, bool):
            raise UserErrorException(f"allow_reuse must be True or False, got {allow_reuse!r}.")
        self.name = name or type(self).__name__
        self.allow_reuse = allow_reuse
        self._key = uuid.uuid4().hex[:12]
        self._inputs = _listed(inputs, "inputs")
        self._outputs = _listed(outputs, "outputs")
        for item in self._outputs:
            if not hasattr(item, "_output_port"):
                raise UserErrorException(
                    f"Step {self.name!r}: outputs= takes PipelineData and OutputFileDatasetConfig"
                    f" objects, got {item!r}."
                )
        for item in self._inputs:
            if not (hasattr(item, "_input_port") or hasattr(item, "_input_spec")):
                raise UserErrorException(
                    f"Step {self.name!r}: inputs= takes datasets (ds.as_named_input('name')), "
                    "data references, PipelineData and OutputFileDatasetConfig objects, got "
                    f"{item!r}."
                )
        self._arguments = list(arguments or [])
        declared = {o._data_id for o in self._outputs}
        self._outputs += [a for a in self._arguments if hasattr(a, "_output_port")
                          and not a._is_input and a._data_id not in declared]
        for output in self._outputs:
            # The step built last writes it, as when a notebook cell defining it runs again.
            output._producers[:] = [self]
        self._after: list[PipelineStep] = []

    def run_after(self, step: "PipelineStep") -> None:
        """Run this step only after ``step`` has completed, even without data between them."""
        if not isinstance(step, PipelineStep):
            raise UserErrorException(f"run_after takes a step, got {type(step).__name__}.")
        self._after.append(step)

    # -- what the pipeline needs ------------------------------------------------------------

    def _upstream(self) -> Iterable["PipelineStep"]:
        """Steps this one waits for: those it runs after, and those writing what it reads."""
        yield from self._after
        outputs = {o._data_id for o in self._outputs}
        for port in [*self._inputs, *self._arguments]:
            if hasattr(port, "_input_port") and port._data_id not in outputs:
                yield from port._producers

    def _parameters(self) -> list[Any]:
        from plinth.pipeline.core.graph import PipelineParameter

        values = [*self._arguments, *self._extra_parameter_values()]
        return [v for v in values if isinstance(v, PipelineParameter)]

    def _extra_parameter_values(self) -> list[Any]:
        return []

    def _run_definition(self, default_source_directory: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def _spec(self, default_source_directory: str | None) -> dict[str, Any]:
        """The step as plain data (``plinth._pipelines.graph`` documents the shape)."""
        definition = self._run_definition(default_source_directory)
        outputs = {p._data_id: p._output_port() for p in self._outputs}
        port_inputs: dict[str, dict[str, Any]] = {}
        for port in [*(i for i in self._inputs if hasattr(i, "_input_port")),
                     *(a for a in self._arguments if hasattr(a, "_input_port"))]:
            if port._data_id in outputs:
                continue  # its own output, passed as an argument: the folder it writes
            spec = port._input_port()
            port_inputs.setdefault(spec["name"], spec)
        for output in outputs.values():
            if output["name"] in port_inputs:
                raise UserErrorException(
                    f"Step {self.name!r} has an input and an output both named "
                    f"{output['name']!r}; give the input another name with "
                    "as_input(name)/as_download(input_name=...)."
                )
        return {"key": self._key, "name": self.name, "kind": self._kind,
                "allow_reuse": self.allow_reuse, "after": [s._key for s in self._after],
                "definition": definition, "outputs": list(outputs.values()),
                "port_inputs": list(port_inputs.values())}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _listed(items: Any, argument: str) -> list[Any]:
    if items is None:
        return []
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, (list, tuple)):
        raise UserErrorException(f"{argument} must be a list, got {type(items).__name__}.")
    return list(items)
