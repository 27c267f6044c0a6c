"""Turning stored metric points back into what ``Run.get_metrics`` returns (azureml's shape)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plinth._store import MetricPoint

__all__ = ["assemble_metrics"]


def assemble_metrics(points: Iterable[MetricPoint]) -> dict[str, Any]:
    """One value per name: a scalar logged once stays a scalar, logged again it is a list;
    ``log_list`` values extend a list; rows and tables become dicts of column lists;
    structured values (confusion matrices, images) are returned as logged (the last one)."""
    out: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for p in points:
        kind = p.kind
        if p.name not in out:
            kinds[p.name] = kind
            if kind == "scalar":
                out[p.name] = p.value
            elif kind == "list":
                out[p.name] = list(p.value)
            elif kind in ("row", "table"):
                out[p.name] = {k: (list(v) if kind == "table" else [v]) for k, v in p.value.items()}
            else:
                out[p.name] = p.value
            continue
        current = out[p.name]
        if kind == "scalar":
            if kinds[p.name] == "scalar":
                out[p.name] = [current, p.value]
                kinds[p.name] = "series"
            else:
                current.append(p.value)
        elif kind == "list":
            current.extend(p.value)
        elif kind in ("row", "table"):
            for k, v in p.value.items():
                current.setdefault(k, []).extend(v if kind == "table" else [v])
        else:
            out[p.name] = p.value
    return out
