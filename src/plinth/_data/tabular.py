"""Reading a tabular dataset's files (or a SQL query) into one pyarrow Table, and applying its
definition's transforms.

Definitions are JSON, so every option here is a plain dict/list/str/number:

* formats: ``{"format": "delimited", "separator": ",", "header": True, "encoding": "utf8",
  "infer_column_types": True, "set_column_types": {...}, "quoting": False,
  "empty_as_null": True, "include_path": False}``, ``{"format": "parquet"}``,
  ``{"format": "json_lines", "encoding": "utf8"}``;
* column types: ``"string" | "long" | "float" | "bool" | "datetime"`` or
  ``{"type": "datetime", "formats": ["%Y-%m-%d", ...]}``;
* transforms: ``{"op": "take", "n": 5}`` and the others in ``TABLE_OPS``.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from plinth._data import expressions
from plinth._data.files import DatastoreFiles
from plinth.exceptions import DataAccessError, ValidationError

__all__ = [
    "FORMATS",
    "COLUMN_TYPES",
    "ENCODINGS",
    "TABLE_OPS",
    "FILE_OPS",
    "read_files",
    "read_sql",
    "convert_column",
    "apply_transforms",
    "apply_file_transforms",
    "needs_rows",
    "write_table",
]

FORMATS = ("delimited", "parquet", "json_lines")
COLUMN_TYPES = ("string", "long", "float", "bool", "datetime")
_TYPE_ALIASES = {
    "str": "string",
    "int": "long",
    "integer": "long",
    "int64": "long",
    "double": "float",
    "float64": "float",
    "decimal": "float",
    "boolean": "bool",
    "date": "datetime",
    "timestamp": "datetime",
}
#: azureml's encoding names -> Python codec names.
ENCODINGS = {
    "utf8": "utf8",
    "utf8bom": "utf8",  # pyarrow skips a UTF-8 byte-order mark itself
    "iso88591": "iso-8859-1",
    "latin1": "latin-1",
    "ascii": "ascii",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "windows1252": "cp1252",
}
_HEADERS = {
    "all_files_have_same_headers": True,
    "no_headers": False,
    "only_first_file_has_headers": "first",
}
_TRUE = ["true", "1", "yes"]
_FALSE = ["false", "0", "no"]
_INTEGER = r"^[+-]?\d+$"
_FLOAT = r"(?i)^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)$"
_DATETIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y",
]
# pyarrow parallelises within a file already; a few files at once keep remote reads busy
# without more threads fighting over the same cores for local ones.
_MAX_WORKERS = 4
_PATH_COLUMN = "Path"

#: (datastore, name, name shown in the ``Path`` column).
Source = tuple[DatastoreFiles, str, str]
_Reread = Callable[[int, set[str]], pa.Table]


# --------------------------------------------------------------------------- reading files


def read_files(
    files: Iterable[tuple[DatastoreFiles, str] | Source],
    fmt: Mapping[str, Any],
    limit: int | None = None,
) -> pa.Table:
    """All ``files`` (datastore, name), in order, as one table in format ``fmt``. A third
    item, when given (as in ``resolve.ResolvedFile``), is the name ``include_path`` shows.

    With ``limit``, reading stops once that many rows are read (the result may have more).
    Files whose columns differ raise ValidationError; types that differ are unified.
    """
    if not isinstance(fmt, Mapping):
        raise ValidationError(f"fmt must be a dict such as {{'format': 'parquet'}}, not {fmt!r}.")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError(f"limit must be a whole number >= 0 or None, not {limit!r}.")
    reader = _reader(fmt)
    sources = [_source(f) for f in files]
    if not sources:
        return pa.table({})
    reader.start(sources)
    if limit is not None:
        tables = _read_until(reader, sources, limit)
        sources = sources[: len(tables)]
    elif reader.first_names_the_rest:
        first = reader.read(sources[0])
        tables = [first, *_parallel(reader.read, sources[1:])]
    else:
        tables = _parallel(reader.read, sources)
    return _combine(tables, [_where(s) for s in sources], reread=reader.reread_as_string(sources))


def _read_until(reader: _Reader, sources: list[Source], limit: int) -> list[pa.Table]:
    tables: list[pa.Table] = []
    rows = 0
    for source in sources:
        if tables and rows >= limit:
            break
        table = reader.read(source, limit=limit - rows)
        tables.append(table)
        rows += table.num_rows
    return tables


def _parallel(fn: Callable[[Source], pa.Table], sources: Sequence[Source]) -> list[pa.Table]:
    if len(sources) <= 1:
        return [fn(s) for s in sources]
    with ThreadPoolExecutor(max_workers=min(len(sources), _MAX_WORKERS)) as pool:
        return list(pool.map(fn, sources))  # map keeps the files' order


def _source(item: Any) -> Source:
    if not isinstance(item, Sequence) or isinstance(item, str) or len(item) not in (2, 3):
        raise ValidationError(f"files must hold (datastore files, name) pairs, not {item!r}.")
    return (item[0], item[1], item[-1])


def _where(source: Source) -> str:
    files, name, _ = source
    return f"{files.uri.rstrip('/')}/{name}"


@contextlib.contextmanager
def _open(source: Source) -> Iterator[Any]:
    """A path for files on this disk (pyarrow reads it directly), else a stream."""
    files, name, _ = source
    path = files.local_path(name)
    if path is not None:
        yield str(path)
        return
    with files.open(name) as stream:
        codec = _compression(name)
        yield pa.CompressedInputStream(stream, codec) if codec else stream


def _compression(name: str) -> str | None:
    try:
        return pa.Codec.detect(name).name
    except (TypeError, ValueError, pa.ArrowNotImplementedError):  # no compression
        return None


def _reader(fmt: Mapping[str, Any]) -> _Reader:
    kind = fmt.get("format")
    if kind == "delimited":
        return _Delimited(fmt)
    if kind == "parquet":
        return _Parquet(fmt)
    if kind == "json_lines":
        return _JsonLines(fmt)
    raise ValidationError(f"Unknown format {kind!r} in {dict(fmt)!r}; expected one of {FORMATS}.")


class _Reader:
    """Reads one file into a table, applying the format's ``set_column_types``."""

    format = ""
    first_names_the_rest = False

    def __init__(self, fmt: Mapping[str, Any]):
        self.include_path = _bool_option(fmt, "include_path", False)
        types = fmt.get("set_column_types") or {}
        if not isinstance(types, Mapping):
            raise ValidationError(
                f"set_column_types must be a dict of column name -> type, not {types!r}."
            )
        self.column_types = {str(k): _type_spec(v, k) for k, v in types.items()}

    def start(self, sources: list[Source]) -> None:
        """Called with all the files before any is read."""

    def read(
        self, source: Source, limit: int | None = None, as_string: frozenset[str] = frozenset()
    ) -> pa.Table:
        """One file's table; ``as_string`` names columns to keep as text."""
        where = _where(source)
        try:
            table = self._read(source, limit, as_string)
        except (pa.ArrowInvalid, UnicodeError) as exc:
            raise ValidationError(self._unreadable(where, exc)) from None
        return self._finish(table, source, where)

    def reread_as_string(self, sources: list[Source]) -> _Reread | None:
        """How to read file ``i`` again with some columns as text, when the files disagree on
        their types (None where casting is as good)."""
        return None

    def _read(self, source: Source, limit: int | None, as_string: frozenset[str]) -> pa.Table:
        raise NotImplementedError

    def _finish(self, table: pa.Table, source: Source, where: str) -> pa.Table:
        table = table.replace_schema_metadata(None)
        missing = [c for c in self.column_types if c not in table.column_names]
        if missing:
            raise ValidationError(
                f"set_column_types names {missing}, which {where} does not have; its columns "
                f"are {table.column_names}."
            )
        for name, spec in self.column_types.items():
            i = table.column_names.index(name)
            table = table.set_column(i, name, convert_column(table[i], spec, name, where))
        if self.include_path:
            if _PATH_COLUMN in table.column_names:
                raise ValidationError(
                    f"include_path adds a {_PATH_COLUMN!r} column, but {where} already has "
                    "one: turn include_path off or rename that column."
                )
            table = table.append_column(_PATH_COLUMN, pa.repeat(source[2], table.num_rows))
        return table

    def _unreadable(self, where: str, exc: Exception) -> str:
        hint = ""
        if isinstance(exc, UnicodeError) or "utf8" in str(exc).lower():
            hint = f" If the file is not UTF-8, set 'encoding' to one of {list(ENCODINGS)}."
        return f"Cannot read {where} as {self.format}: {exc}.{hint}"


class _Delimited(_Reader):
    format = "delimited text"

    def __init__(self, fmt: Mapping[str, Any]):
        super().__init__(fmt)
        separator = fmt.get("separator", ",")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValidationError(
                f"separator must be one character such as ',' or '\\t', not {separator!r}."
            )
        header = fmt.get("header", True)
        if isinstance(header, str):
            header = _HEADERS.get(header.lower())
            if header is None:
                raise ValidationError(
                    f"header must be True, False or one of {list(_HEADERS)}, "
                    f"not {fmt.get('header')!r}."
                )
        elif not isinstance(header, bool):
            raise ValidationError(f"header must be True or False, not {header!r}.")
        self.header = header
        self.first_names_the_rest = header == "first"
        self.first_source: Source | None = None
        self.file_names: list[str] | None = None  # the first file's, for the headerless rest
        self.infer = _bool_option(fmt, "infer_column_types", True)
        multi_line = _bool_option(fmt, "quoting", False) or _bool_option(
            fmt, "support_multi_line", False
        )
        self.encoding = _encoding(fmt)
        self.parse_options = pacsv.ParseOptions(delimiter=separator, newlines_in_values=multi_line)
        self.strings_can_be_null = _bool_option(fmt, "empty_as_null", True)

    def start(self, sources: list[Source]) -> None:
        self.first_source = sources[0]

    def reread_as_string(self, sources: list[Source]) -> _Reread | None:
        return lambda i, columns: self.read(sources[i], None, frozenset(columns))

    def _read_options(self, first_file: bool) -> pacsv.ReadOptions:
        if self.header is True or (self.header == "first" and first_file):
            return pacsv.ReadOptions(encoding=self.encoding)
        if self.file_names is not None:
            return pacsv.ReadOptions(encoding=self.encoding, column_names=self.file_names)
        return pacsv.ReadOptions(encoding=self.encoding, autogenerate_column_names=True)

    def _file_column(self, name: str) -> str:
        """A column's name as pyarrow calls it before renaming (``f0`` for ``Column1``)."""
        if self.header is False:
            match = re.fullmatch(r"Column(\d+)", name)
            return f"f{int(match.group(1)) - 1}" if match else name
        return name

    def _read(self, source: Source, limit: int | None, as_string: frozenset[str]) -> pa.Table:
        first_file = source == self.first_source
        read_options = self._read_options(first_file)
        text = {*self.column_types, *as_string}
        if not self.infer:
            text.update(self._names(source, read_options))
        convert = pacsv.ConvertOptions(
            column_types={self._file_column(c): pa.string() for c in text},
            strings_can_be_null=self.strings_can_be_null,
        )
        table = None
        if limit is not None:
            with contextlib.suppress(pa.ArrowInvalid), _open(source) as stream:
                # Types are inferred from the first block only; should a later one disagree,
                # the whole file is read instead.
                reader = pacsv.open_csv(stream, read_options, self.parse_options, convert)
                table = _first_rows(reader, limit)
        if table is None:
            with _open(source) as stream:
                table = pacsv.read_csv(stream, read_options, self.parse_options, convert)
        if self.header == "first" and first_file:
            self.file_names = table.column_names
        if self.header is False:
            table = table.rename_columns([f"Column{i + 1}" for i in range(table.num_columns)])
        binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
        if binary:
            # pyarrow reads text that is not valid UTF-8 as bytes rather than failing.
            raise UnicodeError(f"column(s) {binary} hold text that is not {self.encoding}")
        return table

    def _names(self, source: Source, read_options: pacsv.ReadOptions) -> list[str]:
        """The file's column names (as named after renaming), from its first block only."""
        with _open(source) as stream:
            names = pacsv.open_csv(stream, read_options, self.parse_options).schema.names
        if self.header is False:
            return [f"Column{i + 1}" for i in range(len(names))]
        return names


class _Parquet(_Reader):
    format = "parquet"

    def _read(self, source: Source, limit: int | None, as_string: frozenset[str]) -> pa.Table:
        with _open(source) as stream:
            if limit is None:
                local = isinstance(stream, str)
                return pq.read_table(stream, memory_map=local, partitioning=None)
            parquet = pq.ParquetFile(stream)
            batches = parquet.iter_batches(batch_size=max(min(limit, 65_536), 1))
            return _first_rows(batches, limit, parquet.schema_arrow)


class _JsonLines(_Reader):
    format = "JSON lines"

    def __init__(self, fmt: Mapping[str, Any]):
        super().__init__(fmt)
        self.encoding = _encoding(fmt)

    def _read(self, source: Source, limit: int | None, as_string: frozenset[str]) -> pa.Table:
        if limit is not None:
            with contextlib.suppress(pa.ArrowInvalid), self._stream(source) as stream:
                return _first_rows(pajson.open_json(stream), limit)
        with self._stream(source) as stream:
            return pajson.read_json(stream)

    @contextlib.contextmanager
    def _stream(self, source: Source) -> Iterator[Any]:
        with _open(source) as raw:
            if self.encoding == "utf8":
                yield raw
            else:
                yield pa.transcoding_input_stream(pa.input_stream(raw), self.encoding, "utf8")


def _first_rows(batches: Any, limit: int, schema: pa.Schema | None = None) -> pa.Table:
    """At least ``limit`` rows (or all there are) from a stream of record batches."""
    schema = schema if schema is not None else batches.schema
    taken: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if rows >= limit and taken:
            break
        taken.append(batch)
        rows += batch.num_rows
    return pa.Table.from_batches(taken, schema=schema)


def _bool_option(fmt: Mapping[str, Any], key: str, default: bool) -> bool:
    value = fmt.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be True or False, not {value!r}.")
    return value


def _encoding(fmt: Mapping[str, Any]) -> str:
    name = fmt.get("encoding") or "utf8"
    key = re.sub(r"[-_ ]", "", str(name)).lower()
    if key in ENCODINGS:
        return ENCODINGS[key]
    try:
        codec = codecs.lookup(str(name)).name
    except LookupError:
        raise ValidationError(
            f"Unknown encoding {name!r}; use one of {list(ENCODINGS)} (or a Python codec name)."
        ) from None
    return "utf8" if codec == "utf-8" else codec


# --------------------------------------------------------------------------- unifying files


def _combine(
    tables: list[pa.Table],
    wheres: list[str],
    reread: _Reread | None = None,
) -> pa.Table:
    """One table from several with the same columns; differing types are unified (a file's
    column read as text again where that is lossless, else cast)."""
    names = tables[0].column_names
    for i, table in enumerate(tables[1:], start=1):
        if table.column_names == names:
            continue
        if sorted(table.column_names) != sorted(names):
            raise ValidationError(
                f"The files do not have the same columns: {wheres[0]} has {names} but "
                f"{wheres[i]} has {table.column_names}. Make the files agree, or read them as "
                "separate datasets."
            )
        tables[i] = table.select(names)
    targets = {n: _common_type([t.schema.field(n).type for t in tables]) for n in names}
    if reread is not None:
        for i, table in enumerate(tables):
            text = {
                n
                for n in names
                if pa.types.is_string(targets[n])
                and not pa.types.is_null(table.schema.field(n).type)
                and table.schema.field(n).type != targets[n]
            }
            if text:
                tables[i] = reread(i, text).select(names)
    schema = pa.schema([(n, targets[n]) for n in names])
    unified = []
    for table, where in zip(tables, wheres, strict=True):
        if table.schema != schema:
            try:
                table = table.cast(schema, safe=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValidationError(
                    f"The columns of {where} ({table.schema.types}) cannot be made to match "
                    f"the other files' ({schema.types}): {exc}. Set the columns' types with "
                    "set_column_types."
                ) from None
        unified.append(table)
    return pa.concat_tables(unified)


def _common_type(types: list[pa.DataType]) -> pa.DataType:
    """The type every one of ``types`` converts to without losing values."""
    known = list(dict.fromkeys(t for t in types if not pa.types.is_null(t)))
    if not known:
        return pa.null()
    if len(known) == 1:
        return known[0]
    if all(pa.types.is_integer(t) for t in known):
        return pa.int64()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in known):
        return pa.float64()
    if all(pa.types.is_timestamp(t) or pa.types.is_date(t) for t in known):
        zones = {getattr(t, "tz", None) for t in known}
        if len(zones) == 1:
            units = [t.unit for t in known if pa.types.is_timestamp(t)]
            unit = max(units, key=["s", "ms", "us", "ns"].index) if units else "s"
            return pa.timestamp(unit, tz=zones.pop())
    if all(pa.types.is_large_string(t) or pa.types.is_string(t) for t in known):
        return pa.large_string()
    return pa.string()


# --------------------------------------------------------------------------- column types


def _type_spec(spec: Any, column: Any) -> tuple[str, list[str] | None]:
    """``(type, formats)`` from ``"long"`` or ``{"type": "datetime", "formats": [...]}``."""
    formats = None
    name = spec
    if isinstance(spec, Mapping):
        name = spec.get("type")
        formats = spec.get("formats")
        if formats is not None and (
            not isinstance(formats, list) or not all(isinstance(f, str) for f in formats)
        ):
            raise ValidationError(
                f"Column {column!r}: 'formats' must be a list of strptime formats such as "
                f"['%Y-%m-%d'], not {formats!r}."
            )
    if isinstance(name, str):
        name = _TYPE_ALIASES.get(name.lower(), name.lower())
    if name not in COLUMN_TYPES:
        raise ValidationError(
            f"Column {column!r}: unknown column type {spec!r}; use one of {list(COLUMN_TYPES)} "
            "or {'type': 'datetime', 'formats': [...]}."
        )
    return name, formats


def convert_column(
    values: pa.ChunkedArray | pa.Array, spec: Any, column: str, where: str = ""
) -> pa.ChunkedArray | pa.Array:
    """``values`` as type ``spec``; ValidationError naming the column and a bad value."""
    kind, formats = spec if isinstance(spec, tuple) else _type_spec(spec, column)
    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    context = (column, kind, where)
    if kind == "string":
        return values if text else _cast(values, pa.string(), context)
    if text:
        values = _blank_to_null(pc.utf8_trim_whitespace(values))
    if kind == "long":
        if text:
            _check(values, pc.invert(pc.match_substring_regex(values, _INTEGER)), context)
        return _cast(values, pa.int64(), context)
    if kind == "float":
        if text:
            _check(values, pc.invert(pc.match_substring_regex(values, _FLOAT)), context)
        return _cast(values, pa.float64(), context)
    if kind == "bool":
        return _to_bool(values, context) if text else _cast(values, pa.bool_(), context)
    return _to_datetime(values, formats, context)


def _blank_to_null(values: Any) -> Any:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _cast(values: Any, type_: pa.DataType, context: tuple[str, str, str]) -> Any:
    if values.type == type_:
        return values
    try:
        return pc.cast(values, type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        column, kind, where = context
        raise ValidationError(
            f"Column {column!r}{_in(where)} ({values.type}) cannot be converted to {kind}: "
            f"{exc}. Choose another type in set_column_types."
        ) from None


def _check(values: Any, bad: Any, context: tuple[str, str, str]) -> None:
    """Raise when ``bad`` marks any value, quoting the first."""
    bad = pc.fill_null(bad, False)
    count = pc.sum(bad).as_py() or 0
    if not count:
        return
    column, kind, where = context
    row = pc.index(bad, True).as_py()
    raise ValidationError(
        f"Column {column!r}{_in(where)} cannot be converted to {kind}: value "
        f"{values[row].as_py()!r} in data row {row + 1} ({count} such value(s) in all). "
        f"Fix the data, or set a different type (e.g. 'string') for {column!r} in "
        "set_column_types."
    )


def _in(where: str) -> str:
    return f" in {where}" if where else ""


def _to_bool(values: Any, context: tuple[str, str, str]) -> Any:
    lower = pc.utf8_lower(values)
    true = pc.is_in(lower, value_set=pa.array(_TRUE))
    false = pc.is_in(lower, value_set=pa.array(_FALSE))
    _check(values, pc.and_(pc.is_valid(lower), pc.invert(pc.or_(true, false))), context)
    return pc.if_else(pc.is_null(lower), pa.scalar(None, pa.bool_()), true)


def _to_datetime(values: Any, formats: list[str] | None, context: tuple[str, str, str]) -> Any:
    if pa.types.is_timestamp(values.type):
        return values
    if pa.types.is_date(values.type):
        return _cast(values, pa.timestamp("us"), context)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        column, kind, where = context
        raise ValidationError(
            f"Column {column!r}{_in(where)} holds {values.type} values, which cannot be "
            "converted to datetime; only text and dates can."
        )
    if not formats:
        # ISO 8601 (with fractions of a second and time zones) first: the common case.
        for type_ in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
            try:
                return pc.cast(values, type_)
            except pa.ArrowInvalid:
                pass
    formats = formats or _DATETIME_FORMATS
    parsed = [pc.strptime(values, f, "us", error_is_null=True) for f in formats]
    result = pc.coalesce(*parsed) if len(parsed) > 1 else parsed[0]
    _check(values, pc.and_(pc.is_valid(values), pc.is_null(result)), context)
    return result


# --------------------------------------------------------------------------- SQL


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


# --------------------------------------------------------------------------- transforms


def apply_transforms(table: pa.Table, transforms: Sequence[Mapping[str, Any]]) -> pa.Table:
    """``table`` after each of ``transforms`` in order (see ``TABLE_OPS``)."""
    state: dict[str, str | None] = {"timestamp": None, "partition_timestamp": None}
    for spec in _transform_list(transforms):
        op = _op_name(spec, TABLE_OPS, "tabular")
        table = TABLE_OPS[op](table, spec, state)
    return table


def apply_file_transforms(names: list[str], transforms: Sequence[Mapping[str, Any]]) -> list[str]:
    """A file dataset's ``names`` after ``transforms`` (take, skip, take_sample, random_split)."""
    names = list(names)
    for spec in _transform_list(transforms):
        op = _op_name(spec, FILE_OPS, "file")
        names = FILE_OPS[op](names, spec)
    return names


def needs_rows(transforms: Sequence[Mapping[str, Any]]) -> int | None:
    """How many leading rows suffice for ``transforms`` (None: all of them): set when they
    start with take(n), after skips and column selections."""
    offset = 0
    for spec in _transform_list(transforms):
        op = spec.get("op")
        if op in ("keep_columns", "drop_columns", "with_timestamp_columns"):
            continue
        if op == "skip":
            offset += _count(spec, "n")
            continue
        if op == "take":
            return offset + _count(spec, "n")
        return None
    return None


def _transform_list(transforms: Any) -> list[Mapping[str, Any]]:
    if transforms is None:
        return []
    if isinstance(transforms, Mapping | str) or not isinstance(transforms, Sequence):
        raise ValidationError(f"transforms must be a list of dicts, not {transforms!r}.")
    for spec in transforms:
        if not isinstance(spec, Mapping):
            raise ValidationError(f"Each transform must be a dict with an 'op', not {spec!r}.")
    return list(transforms)


def _op_name(spec: Mapping[str, Any], ops: Mapping[str, Any], kind: str) -> str:
    op = spec.get("op")
    if op not in ops:
        raise ValidationError(
            f"Unknown transform {op!r} for a {kind} dataset in {dict(spec)!r}; expected one "
            f"of {sorted(ops)}."
        )
    return op


def _count(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(
            f"{spec.get('op')}: {key} must be a whole number >= 0, not {value!r}."
        )
    return value


def _fraction(spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(
            f"{spec.get('op')}: {key} must be a number from 0 to 1, not {value!r}."
        )
    return float(value)


def _seed(spec: Mapping[str, Any], required: bool = False) -> int | None:
    seed = spec.get("seed")
    if seed is None and required:
        raise ValidationError(
            f"{spec.get('op')}: seed must be set, so that every part comes from the same "
            "draw (pick one when the split is made)."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValidationError(f"{spec.get('op')}: seed must be a whole number >= 0 or None.")
    return seed


def _sample_mask(count: int, spec: Mapping[str, Any]) -> np.ndarray:
    probability = _fraction(spec, "probability")
    return np.random.default_rng(_seed(spec)).random(count) < probability


def _split_mask(count: int, spec: Mapping[str, Any]) -> np.ndarray:
    """Which of ``count`` rows are in the requested part; one draw per row for both parts."""
    percentage = _fraction(spec, "percentage")
    part = spec.get("part", 0)
    if part not in (0, 1) or isinstance(part, bool):
        raise ValidationError(f"random_split: part must be 0 or 1, not {part!r}.")
    first = np.random.default_rng(_seed(spec, required=True)).random(count) < percentage
    return first if part == 0 else ~first


def _columns(table: pa.Table, spec: Mapping[str, Any]) -> list[str]:
    columns = spec.get("columns")
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ValidationError(
            f"{spec.get('op')}: columns must be a column name or a list of them, not {columns!r}."
        )
    unknown = [c for c in columns if c not in table.column_names]
    if unknown:
        raise ValidationError(
            f"{spec.get('op')}: no column(s) {unknown}; the columns are {table.column_names}."
        )
    return columns


def _take(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.slice(0, _count(spec, "n"))


def _skip(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.slice(min(_count(spec, "n"), table.num_rows))


def _take_sample(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.filter(pa.array(_sample_mask(table.num_rows, spec)))


def _random_split(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.filter(pa.array(_split_mask(table.num_rows, spec)))


def _keep_columns(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    keep = set(_columns(table, spec))
    return table.select([c for c in table.column_names if c in keep])


def _drop_columns(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.drop_columns(_columns(table, spec))


def _filter(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.filter(expressions.evaluate(spec.get("expression"), table))


def _with_timestamp_columns(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    """Records the timestamp columns for the time_* transforms, as timestamps."""
    for key in ("timestamp", "partition_timestamp"):
        name = spec.get(key)
        if name is not None:
            if not isinstance(name, str) or name not in table.column_names:
                raise ValidationError(
                    f"with_timestamp_columns: {key}={name!r} is not a column; the columns "
                    f"are {table.column_names}."
                )
            i = table.column_names.index(name)
            table = table.set_column(i, name, convert_column(table[i], "datetime", name))
        state[key] = name
    return table


def _time_filter(table: pa.Table, state: dict, start: Any, end: Any, op: str, spec: Any) -> Any:
    name = state["timestamp"] or state["partition_timestamp"]
    if name is None:
        raise ValidationError(
            f"{op} needs a timestamp column: call with_timestamp_columns(timestamp=...) first."
        )
    inclusive = _bool_option(spec, "include_boundary", True)
    conditions = []
    for moment, bound in ((start, "ge" if inclusive else "gt"), (end, "le" if inclusive else "lt")):
        if moment is not None:
            literal = {"lit": _iso(moment, op), "type": "datetime"}
            conditions.append({"op": bound, "args": [{"col": name}, literal]})
    node = conditions[0] if len(conditions) == 1 else {"op": "and", "args": conditions}
    return table.filter(expressions.evaluate(node, table))


def _iso(value: Any, op: str) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    try:
        return dt.datetime.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValidationError(
            f"{op}: {value!r} is not a datetime or an ISO 8601 string such as "
            "'2020-01-31T00:00:00'."
        ) from None


def _time_between(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    if spec.get("start") is None or spec.get("end") is None:
        raise ValidationError("time_between: both start and end must be set.")
    return _time_filter(table, state, spec["start"], spec["end"], "time_between", spec)


def _time_before(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    if spec.get("end") is None:
        raise ValidationError("time_before: end must be set.")
    return _time_filter(table, state, None, spec["end"], "time_before", spec)


def _time_after(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    if spec.get("start") is None:
        raise ValidationError("time_after: start must be set.")
    return _time_filter(table, state, spec["start"], None, "time_after", spec)


def _time_recent(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    """Rows from the last ``seconds`` up to now (UTC, or ``now`` when given)."""
    seconds = spec.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValidationError(f"time_recent: seconds must be a number >= 0, not {seconds!r}.")
    now = spec.get("now")
    now = dt.datetime.fromisoformat(_iso(now, "time_recent")) if now else dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(seconds=seconds)
    return _time_filter(table, state, start, None, "time_recent", spec)


TABLE_OPS: dict[str, Callable[[pa.Table, Mapping[str, Any], dict], pa.Table]] = {
    "take": _take,
    "skip": _skip,
    "take_sample": _take_sample,
    "random_split": _random_split,
    "keep_columns": _keep_columns,
    "drop_columns": _drop_columns,
    "filter": _filter,
    "with_timestamp_columns": _with_timestamp_columns,
    "time_between": _time_between,
    "time_before": _time_before,
    "time_after": _time_after,
    "time_recent": _time_recent,
}

FILE_OPS: dict[str, Callable[[list[str], Mapping[str, Any]], list[str]]] = {
    "take": lambda names, spec: names[: _count(spec, "n")],
    "skip": lambda names, spec: names[_count(spec, "n") :],
    "take_sample": lambda names, spec: _masked(names, _sample_mask(len(names), spec)),
    "random_split": lambda names, spec: _masked(names, _split_mask(len(names), spec)),
}


def _masked(names: list[str], mask: np.ndarray) -> list[str]:
    return [name for name, keep in zip(names, mask, strict=True) if keep]


# --------------------------------------------------------------------------- writing


def write_table(
    table: pa.Table, folder: str | os.PathLike, fmt: str, rows_per_file: int = 1_000_000
) -> list[Path]:
    """``table`` as ``part-00000.<fmt>``, ... files of at most ``rows_per_file`` rows each
    (one file, possibly empty, at least) in ``folder``; each appears complete or not at all."""
    writers = {"parquet": pq.write_table, "csv": pacsv.write_csv}
    if fmt not in writers:
        raise ValidationError(f"fmt must be one of {sorted(writers)}, not {fmt!r}.")
    if isinstance(rows_per_file, bool) or not isinstance(rows_per_file, int) or rows_per_file < 1:
        raise ValidationError(f"rows_per_file must be a whole number >= 1, not {rows_per_file!r}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, start in enumerate(range(0, max(table.num_rows, 1), rows_per_file)):
        path = folder / f"part-{i:05d}.{fmt}"
        partial = path.with_name(f".{path.name}.partial")
        writers[fmt](table.slice(start, rows_per_file), str(partial))
        os.replace(partial, path)
        paths.append(path)
    return paths
