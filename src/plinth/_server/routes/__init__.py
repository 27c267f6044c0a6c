"""Routers of the native REST API, one module per area."""
