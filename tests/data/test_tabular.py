"""Reading files and SQL into pyarrow tables, and applying a definition's transforms."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from plinth._data.expressions import column
from plinth._data.sql import read_sql
from plinth._data.tabular import read_files, write_table
from plinth._data.transforms import apply_file_transforms, apply_transforms, needs_rows
from plinth.exceptions import ValidationError

DIABETES = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
CSV = {"format": "delimited"}


class LocalFiles:
    """The ``DatastoreFiles`` protocol over a folder; ``local=False`` hides the folder so that
    readers go through ``open`` as they would for remote storage."""

    fs = None

    def __init__(self, root: Path, local: bool = True):
        self.root = Path(root)
        self.uri = str(root)
        self.local = local
        self.opened: list[str] = []

    def list(self, prefix: str = "") -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )

    def open(self, name: str):
        self.opened.append(name)
        return open(self.root / name, "rb")

    def local_path(self, name: str) -> Path | None:
        if self.local:
            self.opened.append(name)
            return self.root / name
        return None

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return name


def sources(files: LocalFiles, names: list[str]) -> list[tuple[LocalFiles, str]]:
    return [(files, n) for n in names]


@pytest.fixture(params=[True, False], ids=["by-path", "by-open"])
def files(request, tmp_path) -> LocalFiles:
    return LocalFiles(tmp_path, local=request.param)


@pytest.fixture
def diabetes_parts(tmp_path) -> tuple[LocalFiles, list[str]]:
    """diabetes.csv cut into 4 CSV files with the header repeated in each."""
    header, *lines = DIABETES.read_text().splitlines()
    names = []
    for i in range(4):
        part = lines[i * 2500 : (i + 1) * 2500]
        names.append(write(tmp_path, f"parts/part-{i}.csv", "\n".join([header, *part]) + "\n"))
    return LocalFiles(tmp_path), names


# --------------------------------------------------------------------------- delimited


def test_multi_file_csv_keeps_file_order_and_matches_pandas(diabetes_parts):
    files, names = diabetes_parts
    table = read_files(sources(files, names), CSV)
    expected = pd.read_csv(DIABETES)
    assert table.num_rows == 10_000
    assert table.column_names == list(expected.columns)
    pd.testing.assert_frame_equal(table.to_pandas(), expected, check_dtype=False)
    assert table.schema.field("BMI").type == pa.float64()
    assert table.schema.field("Age").type == pa.int64()


def test_reads_through_open_when_not_on_this_disk(tmp_path):
    files = LocalFiles(tmp_path, local=False)
    names = [write(tmp_path, "a.csv", "x,y\n1,a\n"), write(tmp_path, "b.csv", "x,y\n2,b\n")]
    table = read_files(sources(files, names), CSV)
    assert table.to_pydict() == {"x": [1, 2], "y": ["a", "b"]}
    assert sorted(files.opened) == ["a.csv", "b.csv"]


def test_compressed_file_through_open(tmp_path):
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(b"x,y\n1,a\n2,b\n"))
    table = read_files([(LocalFiles(tmp_path, local=False), "a.csv.gz")], CSV)
    assert table.to_pydict() == {"x": [1, 2], "y": ["a", "b"]}


def test_headerless_columns_are_named_like_azureml(files, tmp_path):
    name = write(tmp_path, "a.tsv", "1\tx\t2.5\n2\ty\t3.5\n")
    fmt = {"format": "delimited", "separator": "\t", "header": False}
    table = read_files([(files, name)], fmt)
    assert table.column_names == ["Column1", "Column2", "Column3"]
    assert table.to_pydict()["Column3"] == [2.5, 3.5]

    typed = read_files([(files, name)], {**fmt, "set_column_types": {"Column1": "string"}})
    assert typed.column("Column1").to_pylist() == ["1", "2"]


def test_only_first_file_has_headers(files, tmp_path):
    names = [write(tmp_path, "a.csv", "id,name\n1,a\n"), write(tmp_path, "b.csv", "2,b\n3,c\n")]
    fmt = {"format": "delimited", "header": "only_first_file_has_headers"}
    table = read_files(sources(files, names), fmt)
    assert table.to_pydict() == {"id": [1, 2, 3], "name": ["a", "b", "c"]}


def test_infer_column_types_off_keeps_text(files, tmp_path):
    name = write(tmp_path, "a.csv", "code,n\n007,1\n010,2\n")
    table = read_files([(files, name)], {**CSV, "infer_column_types": False})
    assert table.schema.types == [pa.string(), pa.string()]
    assert table.to_pydict() == {"code": ["007", "010"], "n": ["1", "2"]}
    headerless = read_files([(files, name)], {**CSV, "header": False, "infer_column_types": False})
    assert headerless.column("Column1").to_pylist() == ["code", "007", "010"]


def test_empty_as_null(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", "s,n\n,1\nb,\n")
    default = read_files([(files, name)], CSV)
    assert default.to_pydict() == {"s": [None, "b"], "n": [1, None]}
    kept = read_files([(files, name)], {**CSV, "empty_as_null": False})
    assert kept.column("s").to_pylist() == ["", "b"]


def test_quoting_allows_line_breaks_in_values(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", 'id,text\n1,"two\nlines"\n2,plain\n')
    table = read_files([(files, name)], {**CSV, "quoting": True})
    assert table.to_pydict() == {"id": [1, 2], "text": ["two\nlines", "plain"]}


def test_set_column_types(files, tmp_path):
    name = write(
        tmp_path,
        "a.csv",
        "id,score,ok,when,day,code\n"
        " 1 ,2,Yes,2020-01-02 03:04:05,31/12/2020,7\n"
        "2,2.5,no,2020-01-03,01/01/2021,8\n"
        ",,TRUE,,,\n"
        "4,-1e3,0,2020-01-04T00:00:00.5,15/06/2021,9\n",
    )
    fmt = {
        **CSV,
        "set_column_types": {
            "id": "long",
            "score": "float",
            "ok": "bool",
            "when": "datetime",
            "day": {"type": "datetime", "formats": ["%d/%m/%Y"]},
            "code": "string",
        },
    }
    table = read_files([(files, name)], fmt)
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("code").type == pa.string()
    got = table.to_pydict()
    assert got["id"] == [1, 2, None, 4]
    assert got["score"] == [2.0, 2.5, None, -1000.0]
    assert got["ok"] == [True, False, True, False]
    assert got["when"] == [
        dt.datetime(2020, 1, 2, 3, 4, 5),
        dt.datetime(2020, 1, 3),
        None,
        dt.datetime(2020, 1, 4, 0, 0, 0, 500_000),
    ]
    days = [dt.datetime(2020, 12, 31), dt.datetime(2021, 1, 1), None, dt.datetime(2021, 6, 15)]
    assert got["day"] == days
    assert got["code"] == ["7", "8", None, "9"]


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("long", "1", "12x"),
        ("long", "1", "1.5"),
        ("float", "1.5", "abc"),
        ("bool", "no", "maybe"),
        ("datetime", "2020-01-01", "soon"),
    ],
)
def test_set_column_types_names_column_type_and_a_bad_value(tmp_path, kind, good, bad):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", f"v,w\n{good},a\n{bad},b\n{good},c\n")
    with pytest.raises(ValidationError) as err:
        read_files([(files, name)], {**CSV, "set_column_types": {"v": kind}})
    message = str(err.value)
    assert "'v'" in message and kind in message and repr(bad) in message and "a.csv" in message


def test_datetime_formats_that_do_not_match(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", "d\n2020-01-31\n31/01/2020\n")
    spec = {"type": "datetime", "formats": ["%Y-%m-%d"]}
    with pytest.raises(ValidationError, match="'31/01/2020'"):
        read_files([(files, name)], {**CSV, "set_column_types": {"d": spec}})


def test_set_column_types_rejects_unknown_columns_and_types(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", "a,b\n1,2\n")
    with pytest.raises(ValidationError, match=r"\['nope'\].*\['a', 'b'\]"):
        read_files([(files, name)], {**CSV, "set_column_types": {"nope": "long"}})
    with pytest.raises(ValidationError, match="unknown column type 'complex'"):
        read_files([(files, name)], {**CSV, "set_column_types": {"a": "complex"}})


@pytest.mark.parametrize("encoding", ["latin1", "iso88591", "windows1252"])
def test_latin1_text(files, tmp_path, encoding):
    name = write(tmp_path, "a.csv", "name,city\nZoë,Besançon\nJosé,Málaga\n", "latin-1")
    table = read_files([(files, name)], {**CSV, "encoding": encoding})
    assert table.to_pydict() == {"name": ["Zoë", "José"], "city": ["Besançon", "Málaga"]}


def test_latin1_text_read_as_utf8_says_to_set_the_encoding(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", "name\nZoë\n", "latin-1")
    with pytest.raises(ValidationError, match="encoding"):
        read_files([(files, name)], CSV)


def test_utf16_and_unknown_encoding(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", "name,n\nZoë,1\n", "utf-16")
    table = read_files([(files, name)], {**CSV, "encoding": "utf16"})
    assert table.to_pydict() == {"name": ["Zoë"], "n": [1]}
    with pytest.raises(ValidationError, match="Unknown encoding 'klingon'.*latin1"):
        read_files([(files, name)], {**CSV, "encoding": "klingon"})


def test_bad_options_are_named(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "a.csv", "a\n1\n")
    with pytest.raises(ValidationError, match="separator"):
        read_files([(files, name)], {**CSV, "separator": ";;"})
    with pytest.raises(ValidationError, match="header"):
        read_files([(files, name)], {**CSV, "header": "sometimes"})
    with pytest.raises(ValidationError, match="Unknown format 'xlsx'"):
        read_files([(files, name)], {"format": "xlsx"})


def test_include_path(tmp_path):
    files = LocalFiles(tmp_path)
    names = [write(tmp_path, "x/a.csv", "v\n1\n2\n"), write(tmp_path, "x/b.csv", "v\n3\n")]
    table = read_files(sources(files, names), {**CSV, "include_path": True})
    assert table.to_pydict() == {"v": [1, 2, 3], "Path": ["x/a.csv", "x/a.csv", "x/b.csv"]}
    shown = read_files([(files, names[1], "b.csv")], {**CSV, "include_path": True})
    assert shown.column("Path").to_pylist() == ["b.csv"]


def test_empty_file_list():
    assert read_files([], CSV).num_rows == 0


# --------------------------------------------------------------------------- several files


def test_files_with_different_columns_are_named(tmp_path):
    files = LocalFiles(tmp_path)
    names = [write(tmp_path, "a.csv", "x,y\n1,2\n"), write(tmp_path, "b.csv", "x,z\n1,2\n")]
    with pytest.raises(ValidationError) as err:
        read_files(sources(files, names), CSV)
    assert "a.csv" in str(err.value) and "b.csv" in str(err.value)


def test_columns_in_another_order_are_lined_up(tmp_path):
    files = LocalFiles(tmp_path)
    names = [write(tmp_path, "a.csv", "x,y\n1,a\n"), write(tmp_path, "b.csv", "y,x\nb,2\n")]
    table = read_files(sources(files, names), CSV)
    assert table.to_pydict() == {"x": [1, 2], "y": ["a", "b"]}


def test_inferred_types_that_differ_are_unified(files, tmp_path):
    names = [
        write(tmp_path, "a.csv", "n,f,s,e\n1,1.50,007,\n2,2.25,8,\n"),
        write(tmp_path, "b.csv", "n,f,s,e\n3.5,x,text,5\n"),
    ]
    table = read_files(sources(files, names), CSV)
    assert table.schema.field("n").type == pa.float64()
    assert table.schema.field("f").type == pa.string()
    assert table.schema.field("e").type == pa.int64()
    got = table.to_pydict()
    assert got["n"] == [1.0, 2.0, 3.5]
    # Text is the file's own, read again as text rather than a number printed back.
    assert got["f"] == ["1.50", "2.25", "x"]
    assert got["s"] == ["007", "8", "text"]
    assert got["e"] == [None, None, 5]


def test_limit_reads_only_the_files_it_needs(tmp_path):
    files = LocalFiles(tmp_path)
    names = [
        write(tmp_path, "a.csv", "v\n" + "".join(f"{i}\n" for i in range(100))),
        write(tmp_path, "b.csv", "v\n1\n"),
        write(tmp_path, "c.csv", "v\n1\n"),
    ]
    table = read_files(sources(files, names), CSV, limit=5)
    assert table.num_rows >= 5 and table.column("v").to_pylist()[:5] == [0, 1, 2, 3, 4]
    assert files.opened == ["a.csv"]
    files.opened.clear()
    table = read_files(sources(files, names), CSV, limit=101)
    assert table.num_rows == 101 and files.opened == ["a.csv", "b.csv"]


def test_limit_with_a_type_change_after_the_first_block(tmp_path):
    files = LocalFiles(tmp_path)
    # A later block holding a float must not break a limited read inferred as int64.
    rows = "".join(f"{i}\n" for i in range(300_000)) + "1.5\n"
    name = write(tmp_path, "a.csv", "v\n" + rows)
    table = read_files([(files, name)], CSV, limit=300_001)
    assert table.num_rows == 300_001 and table.column("v").to_pylist()[-1] == 1.5


def test_malformed_file_is_named(tmp_path):
    files = LocalFiles(tmp_path)
    name = write(tmp_path, "bad.csv", "a,b\n1,2\n3,4,5\n")
    with pytest.raises(ValidationError, match="bad.csv"):
        read_files([(files, name)], CSV)


# --------------------------------------------------------------------------- parquet, JSON


def test_parquet_files(files, tmp_path):
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), tmp_path / "p1.parquet")
    pq.write_table(pa.table({"a": [3.5], "b": ["z"]}), tmp_path / "p2.parquet")
    table = read_files(sources(files, ["p1.parquet", "p2.parquet"]), {"format": "parquet"})
    assert table.to_pydict() == {"a": [1.0, 2.0, 3.5], "b": ["x", "y", "z"]}
    limited = read_files(sources(files, ["p1.parquet", "p2.parquet"]), {"format": "parquet"}, 1)
    assert limited.column("a").to_pylist()[:1] == [1]


def test_parquet_from_pandas_is_a_plain_table(tmp_path):
    files = LocalFiles(tmp_path)
    frame = pd.read_csv(DIABETES)
    frame.iloc[:6000].to_parquet(tmp_path / "a.parquet")
    frame.iloc[6000:].to_parquet(tmp_path / "b.parquet")
    table = read_files(sources(files, ["a.parquet", "b.parquet"]), {"format": "parquet"})
    pd.testing.assert_frame_equal(table.to_pandas(), frame)


def test_parquet_set_column_types(tmp_path):
    files = LocalFiles(tmp_path)
    pq.write_table(pa.table({"a": [1.0, 2.5], "d": ["2020-01-01", "x"]}), tmp_path / "p.parquet")
    fmt = {"format": "parquet", "set_column_types": {"a": "string"}}
    assert read_files([(files, "p.parquet")], fmt).column("a").to_pylist() == ["1", "2.5"]
    with pytest.raises(ValidationError, match=r"'a'.*long"):
        read_files([(files, "p.parquet")], {"format": "parquet", "set_column_types": {"a": "long"}})
    with pytest.raises(ValidationError, match=r"'d'.*datetime.*'x'"):
        fmt = {"format": "parquet", "set_column_types": {"d": "datetime"}}
        read_files([(files, "p.parquet")], fmt)


def test_json_lines(files, tmp_path):
    names = [
        write(tmp_path, "a.jsonl", '{"id": 1, "name": "Zoë", "at": "2020-01-01"}\n'),
        write(tmp_path, "b.jsonl", '{"id": 2, "name": "Bo", "at": "2020-02-01"}\n'),
    ]
    fmt = {"format": "json_lines", "set_column_types": {"at": "datetime"}}
    table = read_files(sources(files, names), fmt)
    assert table.to_pydict() == {
        "id": [1, 2],
        "name": ["Zoë", "Bo"],
        "at": [dt.datetime(2020, 1, 1), dt.datetime(2020, 2, 1)],
    }
    assert read_files(sources(files, names), {"format": "json_lines"}, limit=1).num_rows == 1


def test_json_lines_in_latin1(files, tmp_path):
    name = write(tmp_path, "a.jsonl", '{"name": "Zoë"}\n', "latin-1")
    table = read_files([(files, name)], {"format": "json_lines", "encoding": "latin1"})
    assert table.to_pydict() == {"name": ["Zoë"]}


# --------------------------------------------------------------------------- SQL


def test_read_sql_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER, name TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)")
    engine.dispose()
    table = read_sql(url, "SELECT id, name FROM t WHERE name LIKE '%' ORDER BY id")
    assert table.to_pydict() == {"id": [1, 2], "name": ["a", "b"]}
    with pytest.raises(ValidationError, match="SELECT nope"):
        read_sql(url, "SELECT nope FROM t")
    with pytest.raises(ValidationError, match="read-only"):
        read_sql(url, "DELETE FROM t")
    assert read_sql(url, "SELECT COUNT(*) AS n FROM t").to_pydict() == {"n": [3]}


@pytest.mark.postgres
def test_read_sql_on_postgresql(pg_database):
    engine = sa.create_engine(pg_database)
    rows = [
        {"id": i, "name": f"n{i}", "price": f"{i}.25", "at": dt.datetime(2020, 1, 1 + i % 28)}
        for i in range(1000)
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS tabular_items")
        conn.exec_driver_sql(
            "CREATE TABLE tabular_items (id integer, name text, price numeric(10, 2),"
            " at timestamp, note text)"
        )
        conn.execute(
            sa.text("INSERT INTO tabular_items VALUES (:id, :name, :price, :at, NULL)"), rows
        )
    engine.dispose()
    query = "SELECT * FROM tabular_items WHERE name LIKE 'n%' ORDER BY id"
    table = read_sql(pg_database, query, batch_rows=300)
    assert table.num_rows == 1000
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("price").type == pa.float64()
    assert table.column("price").to_pylist()[:2] == [0.25, 1.25]
    assert table.column("at").to_pylist()[1] == dt.datetime(2020, 1, 2)
    assert table.column("note").null_count == 1000
    assert read_sql(pg_database, "SELECT id FROM tabular_items WHERE id < 0").num_rows == 0
    with pytest.raises(ValidationError, match="SELECT missing_column"):
        read_sql(pg_database, "SELECT missing_column FROM tabular_items")
    with pytest.raises(ValidationError, match="read-only"):
        read_sql(pg_database, "DELETE FROM tabular_items")
    assert read_sql(pg_database, "SELECT COUNT(*) AS n FROM tabular_items").to_pydict() == {
        "n": [1000]
    }


# --------------------------------------------------------------------------- transforms


@pytest.fixture(scope="module")
def diabetes() -> pa.Table:
    return pacsv.read_csv(DIABETES)


def test_take_and_skip(diabetes):
    ids = diabetes.column("PatientID").to_pylist()
    taken = apply_transforms(diabetes, [{"op": "skip", "n": 10}, {"op": "take", "n": 5}])
    assert taken.column("PatientID").to_pylist() == ids[10:15]
    assert apply_transforms(diabetes, [{"op": "skip", "n": 20_000}]).num_rows == 0
    with pytest.raises(ValidationError, match="n must be a whole number"):
        apply_transforms(diabetes, [{"op": "take", "n": -1}])


def test_take_sample_is_reproducible_for_a_seed(diabetes):
    spec = {"op": "take_sample", "probability": 0.2, "seed": 7}
    first = apply_transforms(diabetes, [spec])
    assert apply_transforms(diabetes, [spec]).equals(first)
    assert 1800 < first.num_rows < 2200
    other = apply_transforms(diabetes, [{**spec, "seed": 8}])
    assert not other.equals(first)
    unseeded = [apply_transforms(diabetes, [{**spec, "seed": None}]) for _ in range(2)]
    assert not unseeded[0].equals(unseeded[1])
    with pytest.raises(ValidationError, match="probability must be a number from 0 to 1"):
        apply_transforms(diabetes, [{**spec, "probability": 1.5}])


def test_random_split_parts_partition_the_rows(diabetes):
    spec = {"op": "random_split", "percentage": 0.7, "seed": 42}
    parts = [apply_transforms(diabetes, [{**spec, "part": p}]) for p in (0, 1)]
    ids = [set(p.column("PatientID").to_pylist()) for p in parts]
    assert parts[0].num_rows + parts[1].num_rows == diabetes.num_rows
    assert 6700 < parts[0].num_rows < 7300
    row_keys = [
        {tuple(r.values()) for r in p.to_pylist()} for p in parts
    ]  # PatientID repeats in this data, so whole rows are compared too
    assert not row_keys[0] & row_keys[1]
    assert ids[0] | ids[1] == set(diabetes.column("PatientID").to_pylist())
    # Same seed, same split; the split keeps the original order within a part.
    again = apply_transforms(diabetes, [{**spec, "part": 0}])
    assert again.equals(parts[0])
    with pytest.raises(ValidationError, match="seed must be set"):
        apply_transforms(diabetes, [{**spec, "seed": None, "part": 0}])


def test_keep_and_drop_columns(diabetes):
    kept = apply_transforms(diabetes, [{"op": "keep_columns", "columns": ["Age", "BMI"]}])
    assert kept.column_names == ["BMI", "Age"]  # the dataset's order
    dropped = apply_transforms(diabetes, [{"op": "drop_columns", "columns": "PatientID"}])
    assert "PatientID" not in dropped.column_names and dropped.num_columns == 9
    with pytest.raises(ValidationError, match=r"\['Height'\].*PatientID"):
        apply_transforms(diabetes, [{"op": "keep_columns", "columns": ["Age", "Height"]}])
    with pytest.raises(ValidationError, match=r"\['Height'\]"):
        apply_transforms(diabetes, [{"op": "drop_columns", "columns": ["Height"]}])


def test_filter_matches_pandas(diabetes):
    expression = ((column("Age") > 50) & (column("BMI") < 30)) | (column("Pregnancies") == 0)
    table = apply_transforms(diabetes, [{"op": "filter", "expression": expression.to_json()}])
    frame = diabetes.to_pandas()
    expected = frame[((frame.Age > 50) & (frame.BMI < 30)) | (frame.Pregnancies == 0)]
    assert table.num_rows == len(expected) > 0
    assert table.column("PatientID").to_pylist() == expected.PatientID.tolist()


@pytest.fixture
def events() -> pa.Table:
    return pa.table(
        {
            "id": [1, 2, 3, 4],
            "at": ["2020-01-01", "2020-01-15", "2020-02-01 12:00:00", None],
            "day": pa.array([dt.date(2020, 1, 1)] * 4),
        }
    )


def test_time_filters(events):
    stamp = {"op": "with_timestamp_columns", "timestamp": "at", "partition_timestamp": "day"}

    def ids(*ops):
        return apply_transforms(events, [stamp, *ops]).column("id").to_pylist()

    converted = apply_transforms(events, [stamp])
    assert converted.schema.field("at").type == pa.timestamp("us")
    assert converted.num_rows == 4
    assert ids({"op": "time_between", "start": "2020-01-01", "end": "2020-01-15"}) == [1, 2]
    between = {"op": "time_between", "start": "2020-01-01", "end": "2020-01-15"}
    assert ids({**between, "include_boundary": False}) == []
    assert ids({"op": "time_before", "end": "2020-01-15T00:00:00"}) == [1, 2]
    assert ids({"op": "time_after", "start": "2020-01-02"}) == [2, 3]
    now = "2020-02-02T00:00:00"
    assert ids({"op": "time_recent", "seconds": 86_400, "now": now}) == [3]
    assert ids({"op": "time_recent", "seconds": 20 * 86_400, "now": now}) == [2, 3]
    recent = apply_transforms(events, [stamp, {"op": "time_recent", "seconds": 3600}])
    assert recent.num_rows == 0


def test_time_filters_need_a_timestamp_column(events):
    with pytest.raises(ValidationError, match="with_timestamp_columns"):
        apply_transforms(events, [{"op": "time_after", "start": "2020-01-01"}])
    with pytest.raises(ValidationError, match="'nope'.*id"):
        apply_transforms(events, [{"op": "with_timestamp_columns", "timestamp": "nope"}])
    with pytest.raises(ValidationError, match=r"'id'.*datetime"):
        apply_transforms(events, [{"op": "with_timestamp_columns", "timestamp": "id"}])
    cleared = [
        {"op": "with_timestamp_columns", "timestamp": "at"},
        {"op": "with_timestamp_columns", "timestamp": None},
        {"op": "time_after", "start": "2020-01-01"},
    ]
    with pytest.raises(ValidationError, match="with_timestamp_columns"):
        apply_transforms(events, cleared)


def test_unknown_transform(diabetes):
    with pytest.raises(ValidationError, match="Unknown transform 'shuffle'.*take_sample"):
        apply_transforms(diabetes, [{"op": "shuffle"}])
    with pytest.raises(ValidationError, match="Unknown transform 'filter' for a file dataset"):
        apply_file_transforms(["a"], [{"op": "filter"}])


def test_file_transforms():
    names = [f"f{i:03d}.csv" for i in range(200)]
    assert apply_file_transforms(names, [{"op": "skip", "n": 5}, {"op": "take", "n": 2}]) == [
        "f005.csv",
        "f006.csv",
    ]
    sample = apply_file_transforms(names, [{"op": "take_sample", "probability": 0.5, "seed": 1}])
    assert sample == apply_file_transforms(
        names, [{"op": "take_sample", "probability": 0.5, "seed": 1}]
    )
    assert 60 < len(sample) < 140 and sample == sorted(sample)
    split = {"op": "random_split", "percentage": 0.25, "seed": 3}
    parts = [apply_file_transforms(names, [{**split, "part": p}]) for p in (0, 1)]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == names


def test_needs_rows():
    assert needs_rows([]) is None
    assert needs_rows([{"op": "take", "n": 5}]) == 5
    assert needs_rows([{"op": "skip", "n": 3}, {"op": "keep_columns"}, {"op": "take", "n": 5}]) == 8
    assert needs_rows([{"op": "filter"}, {"op": "take", "n": 5}]) is None
    assert needs_rows([{"op": "take", "n": 5}, {"op": "filter"}]) == 5


def test_take_reads_just_enough(diabetes_parts):
    files, names = diabetes_parts
    transforms = [{"op": "take", "n": 5}]
    table = read_files(sources(files, names), CSV, limit=needs_rows(transforms))
    table = apply_transforms(table, transforms)
    assert files.opened == [names[0]]
    expected = pd.read_csv(DIABETES).head(5)
    pd.testing.assert_frame_equal(table.to_pandas(), expected, check_dtype=False)


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_table_round_trips(diabetes, tmp_path, fmt):
    paths = write_table(diabetes, tmp_path / "out", fmt, rows_per_file=3000)
    assert [p.name for p in paths] == [f"part-0000{i}.{fmt}" for i in range(4)]
    files = LocalFiles(tmp_path / "out")
    fmt_spec = {"format": "parquet"} if fmt == "parquet" else CSV
    back = read_files(sources(files, [p.name for p in paths]), fmt_spec)
    assert back.equals(diabetes)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in paths]


def test_write_empty_table_keeps_the_columns(tmp_path):
    table = pa.table({"a": pa.array([], pa.int64())})
    paths = write_table(table, tmp_path, "parquet")
    assert len(paths) == 1 and pq.read_table(paths[0]).schema == table.schema
    with pytest.raises(ValidationError, match="fmt must be one of"):
        write_table(table, tmp_path, "xlsx")


def test_definitions_are_json(tmp_path):
    """A format and transforms that went through JSON read the same as the originals."""
    files = LocalFiles(tmp_path)
    shutil.copy(DIABETES, tmp_path / "d.csv")
    fmt = {**CSV, "set_column_types": {"Diabetic": "bool"}}
    transforms = [
        {"op": "filter", "expression": (column("Diabetic") == True).to_json()},  # noqa: E712
        {"op": "keep_columns", "columns": ["PatientID", "Diabetic"]},
    ]
    fmt, transforms = json.loads(json.dumps(fmt)), json.loads(json.dumps(transforms))
    table = apply_transforms(read_files([(files, "d.csv")], fmt), transforms)
    expected = pd.read_csv(DIABETES).query("Diabetic == 1")
    assert table.num_rows == len(expected)
    assert set(table.column("Diabetic").to_pylist()) == {True}
