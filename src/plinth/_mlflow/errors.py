"""Plinth errors -> ``MlflowException`` with the error code MLflow clients expect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    NOT_IMPLEMENTED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

from plinth.exceptions import (
    AlreadyExistsError,
    NotFoundError,
    PlinthError,
    RunError,
    UserErrorException,
)

__all__ = [
    "INVALID_PARAMETER_VALUE",
    "INVALID_STATE",
    "NOT_IMPLEMENTED",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_DOES_NOT_EXIST",
    "MlflowException",
    "mlflow_errors",
]


@contextmanager
def mlflow_errors() -> Iterator[None]:
    """Re-raise Plinth errors (and mapping's ValueErrors) as ``MlflowException``."""
    try:
        yield
    except MlflowException:
        raise
    except NotFoundError as exc:
        raise MlflowException(str(exc), RESOURCE_DOES_NOT_EXIST) from exc
    except AlreadyExistsError as exc:
        raise MlflowException(str(exc), RESOURCE_ALREADY_EXISTS) from exc
    except RunError as exc:
        raise MlflowException(str(exc), INVALID_STATE) from exc
    except (UserErrorException, ValueError) as exc:
        raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc
    except PlinthError as exc:
        raise MlflowException(str(exc), INTERNAL_ERROR) from exc
