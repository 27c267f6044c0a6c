"""Reading a tabular dataset's files into one pyarrow Table, and writing a table as files.

Definitions are JSON, so every option here is a plain dict/list/str/number. Formats:
``{"format": "delimited", "separator": ",", "header": True, "encoding": "utf8",
"infer_column_types": True, "set_column_types": {...}, "quoting": False,
"empty_as_null": True, "include_path": False}``, ``{"format": "parquet"}``,
``{"format": "json_lines", "encoding": "utf8"}``. Column types (``set_column_types``) are
converted by ``columns``, a definition's transforms applied by ``transforms``, and SQL
queries read by ``sql``.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from plinth._data.columns import _type_spec, convert_column
from plinth._data.files import DatastoreFiles
from plinth.exceptions import ValidationError

__all__ = ["FORMATS", "ENCODINGS", "read_files", "write_table"]

FORMATS = ("delimited", "parquet", "json_lines")
_FIRST_ROWS_BLOCK = 1 << 16
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

    def _read_options(self, first_file: bool, **options: Any) -> pacsv.ReadOptions:
        options["encoding"] = self.encoding
        if self.header is True or (self.header == "first" and first_file):
            return pacsv.ReadOptions(**options)
        if self.file_names is not None:
            return pacsv.ReadOptions(column_names=self.file_names, **options)
        return pacsv.ReadOptions(autogenerate_column_names=True, **options)

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
                # Small blocks on one thread: the first rows come back without pyarrow
                # reading ahead and parsing megabytes (take(5) in milliseconds).
                small = self._read_options(first_file, block_size=_FIRST_ROWS_BLOCK,
                                           use_threads=False)
                reader = pacsv.open_csv(stream, small, self.parse_options, convert)
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
