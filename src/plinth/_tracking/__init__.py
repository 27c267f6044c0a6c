"""Buffered metric logging and run liveness for code that runs inside a run."""

from plinth._tracking.buffer import MetricBuffer, flush_all
from plinth._tracking.metrics import assemble_metrics

__all__ = ["MetricBuffer", "assemble_metrics", "flush_all"]
