"""A pipeline as plain data: checked, ordered, and made self-contained.

A *graph* is ``{"steps": [...], "parameters": {name: default}, "description": ...}``. Each
step is a dict:

* ``key`` (unique in the graph), ``name``, ``kind``, ``allow_reuse``, ``after`` (keys of
  steps it must follow besides those whose data it reads);
* ``definition``: the run definition of its child run (as ``prepare_definition`` makes it:
  snapshot, compute, saved datasets), whose arguments hold placeholders for its data and
  parameters;
* ``outputs``: data it writes, ``{"data_id", "name", "kind" ('pipeline_data' or
  'output_dataset'), "datastore", "path" (with ``{run-id}`` and ``{output-name}``),
  "path_on_compute", "register"}``;
* ``port_inputs``: data of other steps it reads, ``{"name" (its placeholder), "data_id",
  "data_name", "mode", "path_on_compute", "dataset_kind" (None: a datastore folder; 'file'
  or 'tabular': a dataset), "format"}``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["check_steps", "dependencies", "materialise", "order"]


def dependencies(steps: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Each step's key -> the keys of the steps it waits for."""
    producers = {o["data_id"]: s["key"] for s in steps for o in s["outputs"]}
    return {s["key"]: {*s["after"], *(producers[p["data_id"]] for p in s["port_inputs"]
                                      if p["data_id"] in producers)}
            for s in steps}


def check_steps(steps: Sequence[Mapping[str, Any]]) -> None:
    """Raise a clear error for two steps writing one output, data nobody writes, a
    ``run_after`` step that is not in the pipeline, or a cycle."""
    if not steps:
        raise UserErrorException("A pipeline needs at least one step.")
    names = {s["key"]: s["name"] for s in steps}
    writers: dict[str, str] = {}
    for step in steps:
        for output in step["outputs"]:
            other = writers.setdefault(output["data_id"], step["key"])
            if other != step["key"]:
                raise UserErrorException(
                    f"Steps {names[other]!r} and {step['name']!r} both write the output "
                    f"{output['name']!r}; each output has one step that writes it (a step "
                    "that reads it passes it in inputs=, or as output.as_input())."
                )
    for step in steps:
        for port in step["port_inputs"]:
            if port["data_id"] not in writers:
                raise UserErrorException(
                    f"Step {step['name']!r} reads {port['data_name']!r}, which no step of the "
                    "pipeline writes: add the step that lists it in outputs= to the pipeline."
                )
        for key in step["after"]:
            if key not in names:
                raise UserErrorException(
                    f"Step {step['name']!r} runs after a step that is not in the pipeline; add "
                    "that step to the pipeline's steps."
                )
    try:
        order(steps)
    except CycleError as exc:
        cycle = " -> ".join(repr(names[k]) for k in exc.args[1])
        raise UserErrorException(
            f"The pipeline's steps depend on each other in a cycle: {cycle}. A step cannot "
            "(even indirectly) read its own output or run after itself."
        ) from None


def order(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """Step keys, each after the steps it waits for."""
    return list(TopologicalSorter(dependencies(steps)).static_order())


def materialise(location: Any, workspace_id: str, steps: Sequence[Mapping[str, Any]],
                parameters: Mapping[str, Any], description: str | None) -> dict[str, Any]:
    """The graph, self-contained: every step's source snapshotted, compute target checked,
    datasets saved, and default datastores named."""
    from plinth._execution.submit import prepare_definition

    check_steps(steps)
    default_datastore: str | None = None
    out = []
    for step in steps:
        step = dict(step)
        definition = dict(step["definition"])
        if definition.get("source_directory") is None:
            with tempfile.TemporaryDirectory(prefix="plinth-empty-") as empty:
                definition = prepare_definition(location, workspace_id,
                                                {**definition, "source_directory": empty})
            definition["source_directory"] = None
        else:
            definition = prepare_definition(location, workspace_id, definition)
        step["definition"] = definition
        outputs = []
        for output in step["outputs"]:
            if output["datastore"] is None:
                if default_datastore is None:
                    default_datastore = location.store().get_default_datastore(workspace_id).name
                output = {**output, "datastore": default_datastore}
            else:
                location.store().get_datastore(workspace_id, output["datastore"])
            outputs.append(output)
        step["outputs"] = outputs
        out.append(step)
    return {"steps": out, "parameters": dict(parameters), "description": description}
