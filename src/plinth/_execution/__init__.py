"""Turning a run request into a process: snapshot, launch, logs, outputs, status, cancel."""
