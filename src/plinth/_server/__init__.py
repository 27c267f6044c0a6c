"""The workspace server: the native REST API over a Store and an artifact root."""

from plinth._server.app import create_app
from plinth._server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
