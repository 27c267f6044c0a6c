"""Error codes on the wire and the exceptions they stand for."""

from __future__ import annotations

from plinth import exceptions as exc

__all__ = ["ERROR_CODES", "error_for", "status_for"]

# code -> (HTTP status, exception class). Order matters for status_for: subclasses first.
ERROR_CODES: dict[str, tuple[int, type[exc.PlinthError]]] = {
    "ModelNotFound": (404, exc.ModelNotFoundException),
    "NotFound": (404, exc.NotFoundError),
    "AlreadyExists": (409, exc.AlreadyExistsError),
    "Conflict": (409, exc.ConcurrencyError),
    "InvalidArgument": (400, exc.ValidationError),
    "BadRequest": (400, exc.UserErrorException),
    "Unauthenticated": (401, exc.AuthenticationError),
    "Forbidden": (403, exc.AuthorizationError),
    "StoreUnavailable": (503, exc.StoreError),
    "WorkspaceError": (400, exc.WorkspaceException),
    "RunError": (409, exc.RunError),
    "Error": (500, exc.PlinthError),
}


def status_for(error: exc.PlinthError) -> tuple[int, str]:
    """The HTTP status and code for an exception raised by the engine."""
    for code, (status, cls) in ERROR_CODES.items():
        if isinstance(error, cls):
            return status, code
    return 500, "Error"


def error_for(code: str, message: str, status: int) -> exc.PlinthError:
    """The exception a client raises for an error response."""
    if code in ERROR_CODES:
        return ERROR_CODES[code][1](message)
    if status == 404:
        return exc.NotFoundError(message)
    if 400 <= status < 500:
        return exc.UserErrorException(message)
    return exc.PlinthError(f"The server failed ({status} {code}): {message}")
