"""Reading the rows of a SQL query into a pyarrow Table.

``read_sql`` runs a query at a SQLAlchemy URL in a read-only transaction, streams the rows in
batches and unifies the batches' column types as ``tabular`` does for several files.
NUMERIC values become float64 and values of types pyarrow does not know are kept as text;
``:name`` in the query stays as written rather than becoming a bind parameter, and
passwords are hidden in the errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from plinth._data.tabular import _combine
from plinth.exceptions import DataAccessError, ValidationError

__all__ = ["read_sql"]


def read_sql(url: str, query: str, *, batch_rows: int = 65_536) -> pa.Table:
    """The rows of a read-only ``query`` on the database at SQLAlchemy ``url``, streamed in
    batches of ``batch_rows``. NUMERIC columns come back as float64, as azureml's do."""
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc

    if not isinstance(query, str) or not query.strip():
        raise ValidationError(f"query must be a non-empty SQL string, not {query!r}.")
    try:
        engine = sa.create_engine(_sql_url(url))
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ValidationError(f"Cannot use database URL {_hide_password(url)}: {exc}") from None
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            try:
                _read_only(conn)
                streaming = conn.execution_options(stream_results=True)
                result = streaming.execute(sa.text(_no_bind_parameters(query)))
                names = list(result.keys())
                tables = [_sql_batch(rows, names) for rows in result.partitions(batch_rows) if rows]
            except sa_exc.DBAPIError as exc:
                if isinstance(exc, sa_exc.OperationalError) and exc.connection_invalidated:
                    raise
                raise ValidationError(
                    f"The query failed: {query!r}: {exc.orig}. Fix the query; it runs in a "
                    "read-only transaction, so it can only read."
                ) from None
            finally:
                if conn.in_transaction():
                    conn.rollback()
    except sa_exc.OperationalError as exc:
        raise DataAccessError(f"Cannot query the database at {shown}: {exc.orig}") from None
    finally:
        engine.dispose()
    if not tables:
        return pa.table({n: pa.array([], pa.null()) for n in names})
    return _combine(tables, [f"{shown} (rows batch {i + 1})" for i in range(len(tables))])


def _sql_url(url: str) -> str:
    if not isinstance(url, str) or not url:
        raise ValidationError(f"url must be a SQLAlchemy database URL, not {url!r}.")
    # A bare postgresql:// URL means psycopg2 to SQLAlchemy; Plinth installs psycopg (3).
    scheme = url.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _no_bind_parameters(query: str) -> str:
    """``query`` for ``sqlalchemy.text`` with every ``:name`` kept as written (text() would
    take it for a parameter); text() still escapes ``%`` for drivers that need it."""
    return re.sub(r"(?<![:\w\\]):(?=\w)(?!:)", r"\\:", query)


def _hide_password(url: Any) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def _read_only(conn: Any) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif dialect == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")


def _sql_batch(rows: Sequence[Any], names: list[str]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays([_sql_array(c) for c in columns], names=names)


def _sql_array(values: Sequence[Any]) -> pa.Array:
    try:
        array = pa.array(values, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        # Types pyarrow does not know (UUID, ranges, ...) are kept as their text.
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if pa.types.is_decimal(array.type):
        return array.cast(pa.float64())
    return array
