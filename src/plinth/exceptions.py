"""Every error Plinth raises on purpose derives from :class:`PlinthError`.

Messages name the argument or object at fault and say what to do next. The azureml names
(``UserErrorException``, ``WorkspaceException``, ...) are kept as aliases-by-inheritance so
code written for the Azure SDK catches the same things.
"""

from __future__ import annotations

__all__ = [
    "PlinthError",
    "UserErrorException",
    "ValidationError",
    "NotFoundError",
    "AlreadyExistsError",
    "WorkspaceException",
    "ExperimentExecutionException",
    "RunError",
    "ActivityFailedException",
    "ModelNotFoundException",
    "WebserviceException",
    "SnapshotException",
    "StoreError",
    "ConcurrencyError",
    "AuthenticationError",
    "AuthorizationError",
    "DataAccessError",
    "ComputeTargetException",
]


class PlinthError(Exception):
    """Base class of every error Plinth raises on purpose."""


class UserErrorException(PlinthError, ValueError):
    """The caller passed something Plinth cannot use; the message says which argument."""


class ValidationError(UserErrorException):
    """An argument has the wrong type or value."""


class NotFoundError(PlinthError, LookupError):
    """A named object (workspace, experiment, run, model, file) does not exist."""


class AlreadyExistsError(PlinthError):
    """An object with that name already exists and the call asked not to reuse it."""


class WorkspaceException(PlinthError):
    """A workspace could not be created, found or opened."""


class ExperimentExecutionException(PlinthError):
    """A run could not be submitted or executed."""


class RunError(PlinthError):
    """An operation on a run is not possible in its current state."""


class ActivityFailedException(RunError):
    """A run ended Failed or Canceled while the caller waited for it to complete."""

    def __init__(self, message: str, error_details: dict | None = None):
        super().__init__(message)
        self.error_details = error_details or {}


class ModelNotFoundException(NotFoundError):
    """No registered model matches the name and version asked for."""


class WebserviceException(PlinthError):
    """A deployment operation failed."""


class SnapshotException(ExperimentExecutionException):
    """The source directory cannot be snapshotted (too large, unreadable)."""


class StoreError(PlinthError):
    """The metadata store could not complete an operation."""


class ConcurrencyError(StoreError):
    """A concurrent writer won a race that could not be retried."""


class AuthenticationError(PlinthError):
    """No valid credentials were given (a missing, wrong, expired or revoked token)."""


class AuthorizationError(PlinthError):
    """The credentials are valid but their role does not allow the operation."""


class DataAccessError(UserErrorException):
    """A datastore could not be read or written: missing or wrong credentials, a bucket or
    container that does not exist, or storage that cannot be reached. ``reason`` is
    ``'auth'``, ``'missing'``, ``'unreachable'`` or ``'other'``."""

    def __init__(self, message: str, reason: str = "other"):
        super().__init__(message)
        self.reason = reason


class ComputeTargetException(PlinthError):
    """A compute target does not exist, cannot be created, or is of a kind Plinth does not
    support."""
