"""Serving models: real-time scoring services and batch inference."""
