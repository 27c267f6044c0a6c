"""Checks of store arguments that several parts of ``SqlStore`` (and ``RestStore``) share:
each returns the value as it will read back, or raises ValidationError naming the argument."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plinth.exceptions import ValidationError

__all__ = ["json_dict", "optional_text"]


def optional_text(value: Any, argument: str, max_length: int | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value or (
        max_length is not None and len(value) > max_length
    ):
        limit = f" of at most {max_length} characters" if max_length else ""
        raise ValidationError(f"{argument}={value!r} must be a str{limit} without NUL, or None.")
    return value


def json_dict(value: Any, argument: str) -> dict[str, Any]:
    """A deep copy of ``value``, as it will read back, or ValidationError naming it."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError(f"{argument} must be a dict with str keys.")
    try:
        text = json.dumps(dict(value), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{argument} must hold only JSON values (str, int, float, bool, None, lists and "
            f"dicts with str keys; no NaN or infinity): {exc}"
        ) from None
    return json.loads(text)
