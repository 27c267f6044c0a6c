"""Dataset read throughput: ``TabularDataset.to_pandas_dataframe()`` beside pandas and pyarrow.

Data: ``--files`` CSV files of ``--size-mb`` MB in all (1 MB = 10^6 bytes), rows shaped like
``examples/data/diabetes.csv`` (an int id, eight ints and floats, a 0/1 label), made with
numpy + ``pyarrow.csv`` once and kept in ``/tmp/plinth-bench-csv-<size>mb-<files>f`` for the
next run (``--clean`` deletes it afterwards). An embedded workspace in a temp folder reads them
through a local datastore registered on that folder (``Datastore.register_local``) and through
the default datastore, which they are uploaded to once (timed, for information).

Timed, best of ``--repeat`` runs after one warm-up, interleaved so that drift in the machine's
load hits every line alike (the files are in the page cache: this measures parsing, not disk):

* Plinth: ``Dataset.Tabular.from_delimited_files((store, '*.csv')).to_pandas_dataframe()``;
* pandas: ``pd.concat((pd.read_csv(f) for f in files), ignore_index=True)``;
* pyarrow: ``pyarrow.csv.read_csv`` per file in a thread pool, ``pa.concat_tables(...)
  .to_pandas()``: what a hand-written pyarrow script does at best;
* the same without the pandas conversion (Plinth's ``to_arrow_table()``), and the first
  rows only (``take(5).to_pandas_dataframe()`` beside ``pd.read_csv(first, nrows=5)``).

    .venv/bin/python benchmarks/dataset_read.py [--size-mb 1000] [--files 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import machine_info, verdict, write_result

NAME = "dataset_read"
MB = 1_000_000
TARGET_X_PYARROW = 1.2  # Plinth's time over pyarrow's, at most
TARGET_X_PANDAS = 3.0  # pandas' time over Plinth's, at least
TARGET_TAKE_SHARE = 0.05  # take(5) over a full read, at most
CHUNK_ROWS = 1_000_000
COLUMNS = ["PatientID", "Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure",
           "TricepsThickness", "SerumInsulin", "BMI", "DiabetesPedigree", "Age", "Diabetic"]
READY = "READY.json"  # written last: its presence says the cached files are complete


# --------------------------------------------------------------------------- the data


def make_rows(rng: Any, first_id: int, count: int) -> Any:
    """``count`` rows like the diabetes data: ids from ``first_id``, ints, floats, a label."""
    import numpy as np
    import pyarrow as pa

    def ints(low: int, high: int) -> Any:
        return rng.integers(low, high + 1, count, dtype=np.int32)

    return pa.table({
        "PatientID": np.arange(first_id, first_id + count, dtype=np.int64),
        "Pregnancies": ints(0, 14),
        "PlasmaGlucose": ints(44, 192),
        "DiastolicBloodPressure": ints(24, 117),
        "TricepsThickness": ints(7, 93),
        "SerumInsulin": ints(14, 796),
        "BMI": np.round(rng.uniform(18.0, 57.0, count), 8),
        "DiabetesPedigree": np.round(rng.uniform(0.078, 2.3, count), 9),
        "Age": ints(21, 77),
        "Diabetic": ints(0, 1),
    })


def generate(folder: Path, size_mb: int, files: int) -> list[Path]:
    """The cached CSV files in ``folder/csv``, made first when missing or incomplete."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = folder / "csv"
    ready = folder / READY
    if ready.exists():
        names = json.loads(ready.read_text())["files"]
        paths = [data / n for n in names]
        if all(p.exists() for p in paths):
            return paths
    shutil.rmtree(folder, ignore_errors=True)
    data.mkdir(parents=True)
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
    rng = np.random.default_rng(20240601)
    sample = pa.BufferOutputStream()
    pacsv.write_csv(make_rows(rng, 1_000_000, 20_000), sample, options)
    row_bytes = sample.getvalue().size / 20_000
    rows_per_file = max(1, round(size_mb * MB / files / row_bytes))
    print(f"Generating {files} CSV files of ~{size_mb / files:,.0f} MB "
          f"({rows_per_file:,} rows each) in {data} ...", flush=True)
    started = time.perf_counter()
    schema = make_rows(rng, 0, 1).schema
    paths = []
    next_id = 1_000_000
    for i in range(files):
        path = data / f"part-{i:05d}.csv"
        with pacsv.CSVWriter(path, schema, write_options=options) as writer:
            left = rows_per_file
            while left:
                count = min(left, CHUNK_ROWS)
                writer.write_table(make_rows(rng, next_id, count))
                next_id += count
                left -= count
        paths.append(path)
    ready.write_text(json.dumps({"files": [p.name for p in paths], "rows_per_file":
                                 rows_per_file, "size_mb": size_mb}))
    print(f"Generated in {time.perf_counter() - started:.1f} s.", flush=True)
    return paths


# --------------------------------------------------------------------------- the readers


def pandas_read(paths: list[str]) -> Any:
    import pandas as pd

    return pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)


def pyarrow_table(paths: list[str], threads: int) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(paths)))) as pool:
        tables = list(pool.map(pacsv.read_csv, paths))
    return pa.concat_tables(tables)


def pandas_head(path: str) -> Any:
    import pandas as pd

    return pd.read_csv(path, nrows=5)


def shape(result: Any) -> tuple[int, int]:
    return (result.num_rows, result.num_columns) if hasattr(result, "num_rows") else result.shape


def best_of(cases: dict[str, Callable[[], Any]], repeat: int, warmup: int,
            console: Any) -> dict[str, dict]:
    """Each case ``warmup`` + ``repeat`` times, interleaved; times and the result's shape.

    ``cpu_s`` is the process's CPU time (all threads) during the best run: a check on a
    shared machine, where another process's load stretches the wall-clock time."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    shapes: dict[str, tuple[int, int]] = {}
    for round_ in range(warmup + repeat):
        measured = round_ >= warmup
        which = (f"run {round_ - warmup + 1}/{repeat}" if measured
                 else f"warm-up {round_ + 1}/{warmup}")
        console.print(f"  {which} ...", highlight=False)
        for key, fn in cases.items():
            gc.collect()
            cpu_started, started = time.process_time(), time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - started
            cpu_used = time.process_time() - cpu_started
            shapes[key] = shape(result)
            del result
            if measured:
                times[key].append(elapsed)
                cpu[key].append(cpu_used)
    return {k: {"best_s": min(v), "median_s": statistics.median(v), "all_s": v,
                "cpu_s": cpu[k][v.index(min(v))], "rows": shapes[k][0],
                "columns": shapes[k][1]} for k, v in times.items()}


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1000,
                        help="total CSV size in MB (10^6 bytes; default 1000)")
    parser.add_argument("--files", type=int, default=16, help="number of CSV files (16)")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs; best is shown (3)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (1)")
    parser.add_argument("--threads", type=int, default=8,
                        help="files read at once by the pyarrow peer (8, as Plinth does)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the CSV files are kept (default "
                             "/tmp/plinth-bench-csv-<size>mb-<files>f)")
    parser.add_argument("--no-default-store", action="store_true",
                        help="skip the default datastore (no upload of the data)")
    parser.add_argument("--no-pandas", action="store_true",
                        help="skip pandas.read_csv (the slowest line)")
    parser.add_argument("--clean", action="store_true",
                        help="delete the cached CSV files at the end")
    args = parser.parse_args()
    if min(args.size_mb, args.files, args.repeat, args.threads) < 1 or args.warmup < 0:
        parser.error("--size-mb, --files, --repeat and --threads must be at least 1")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # rich's 80-column default wraps the tables
    cache = args.cache_dir or Path(tempfile.gettempdir()) / (
        f"plinth-bench-csv-{args.size_mb}mb-{args.files}f")
    paths = generate(cache, args.size_mb, args.files)
    names = [str(p) for p in paths]
    total_bytes = sum(p.stat().st_size for p in paths)
    size_mb = total_bytes / MB

    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-read-"))
    load_before = os.getloadavg()[0]
    saved_home = os.environ.get("PLINTH_HOME")
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # keep ~/.plinth's registry clean
    upload_s = None
    try:
        from plinth.core import Dataset, Datastore, Workspace

        ws = Workspace.create("bench", path=tmp / "plinth-ws")
        local = Datastore.register_local(ws, "bench", cache / "csv")
        stores = {"local": (local, "*.csv")}
        if not args.no_default_store:
            default = ws.get_default_datastore()
            console.print(f"Uploading {len(paths)} files ({size_mb:,.0f} MB) to the default "
                          f"datastore ({default.name}) ...")
            started = time.perf_counter()
            default.upload(cache / "csv", "bench-csv", overwrite=True, show_progress=False)
            upload_s = time.perf_counter() - started
            stores["default"] = (default, "bench-csv/*.csv")

        def plinth(store: str, arrow: bool = False, take: int | None = None):
            def read() -> Any:
                ds = Dataset.Tabular.from_delimited_files(stores[store])
                if take is not None:
                    ds = ds.take(take)
                return ds.to_arrow_table() if arrow else ds.to_pandas_dataframe()
            return read

        labels = {
            "plinth_local": "Plinth, local datastore",
            "plinth_default": "Plinth, default datastore",
            "pyarrow": f"pyarrow read_csv x{args.threads} threads + to_pandas",
            "pandas": "pandas read_csv + concat",
            "plinth_local_arrow": "Plinth to_arrow_table(), local datastore",
            "pyarrow_arrow": "pyarrow read_csv + concat_tables",
            "plinth_local_take": "Plinth take(5), local datastore",
            "plinth_default_take": "Plinth take(5), default datastore",
            "pandas_take": "pandas read_csv(first file, nrows=5)",
        }
        full = {"plinth_local": plinth("local")}
        if "default" in stores:
            full["plinth_default"] = plinth("default")
        full["pyarrow"] = lambda: pyarrow_table(names, args.threads).to_pandas()
        if not args.no_pandas:
            full["pandas"] = lambda: pandas_read(names)
        arrow = {"plinth_local_arrow": plinth("local", arrow=True),
                 "pyarrow_arrow": lambda: pyarrow_table(names, args.threads)}
        take = {"plinth_local_take": plinth("local", take=5)}
        if "default" in stores:
            take["plinth_default_take"] = plinth("default", take=5)
        take["pandas_take"] = lambda: pandas_head(names[0])

        console.print(f"Full reads of {len(paths)} files, {size_mb:,.0f} MB: {args.warmup} "
                      f"warm-up + {args.repeat} measured runs of each of {len(full)} ways ...")
        results = best_of(full, args.repeat, args.warmup, console)
        console.print("Arrow tables only (no pandas conversion) ...")
        results.update(best_of(arrow, args.repeat, args.warmup, console))
        console.print("First rows only ...")
        results.update(best_of(take, max(args.repeat, 5), args.warmup, console))
        ws._location.forget()  # close the store before its folder is deleted
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if saved_home is None:
            os.environ.pop("PLINTH_HOME", None)
        else:
            os.environ["PLINTH_HOME"] = saved_home
        if args.clean:
            shutil.rmtree(cache, ignore_errors=True)

    pyarrow_s = results["pyarrow"]["best_s"]
    table = Table(title=f"Reading {len(paths)} CSV files, {size_mb:,.0f} MB, "
                        f"{results['pyarrow']['rows']:,} rows ({os.cpu_count()} CPUs, "
                        f"best of {args.repeat})",
                  caption="x pyarrow: the line's best time over the pyarrow line's of its "
                          "group (full read to pandas, arrow only). CPU s: the process's CPU "
                          "time in the best run. Files in the page cache. Load average "
                          f"before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}.")
    for column in ("how", "best s", "median s", "CPU s", "MB/s", "rows", "x pyarrow"):
        table.add_column(column, justify="left" if column == "how" else "right")
    groups = [(list(full), "pyarrow"), (list(arrow), "pyarrow_arrow"), (list(take), None)]
    for i, (keys, base) in enumerate(groups):
        for key in keys:
            r = results[key]
            is_take = base is None
            mbs = "" if is_take else f"{size_mb / r['best_s']:,.0f}"
            ratio = "" if is_take else f"{r['best_s'] / results[base]['best_s']:.2f}x"
            name = f"[bold]{labels[key]}[/]" if key == "plinth_local" else labels[key]
            table.add_row(name, f"{r['best_s']:.3f}", f"{r['median_s']:.3f}",
                          f"{r['cpu_s']:.3f}", mbs,
                          f"{r['rows']:,}", ratio, end_section=i < len(groups) - 1
                          and key == keys[-1])
    console.print(table)

    plinth_s = results["plinth_local"]["best_s"]
    x_pyarrow = plinth_s / pyarrow_s
    ratios: dict[str, float] = {"plinth_over_pyarrow": x_pyarrow}
    console.print(f"Target: Plinth / pyarrow <= {TARGET_X_PYARROW} (local datastore): "
                  f"{x_pyarrow:.2f} {verdict(x_pyarrow <= TARGET_X_PYARROW)}")
    if "plinth_default" in results:
        ratios["plinth_default_over_pyarrow"] = results["plinth_default"]["best_s"] / pyarrow_s
        console.print(f"        the same through the default datastore: "
                      f"{ratios['plinth_default_over_pyarrow']:.2f} "
                      f"{verdict(ratios['plinth_default_over_pyarrow'] <= TARGET_X_PYARROW)}")
    x_pandas_ok = None
    if "pandas" in results:
        ratios["pandas_over_plinth"] = results["pandas"]["best_s"] / plinth_s
        x_pandas_ok = ratios["pandas_over_plinth"] >= TARGET_X_PANDAS
        shown = f"{ratios['pandas_over_plinth']:.1f}x"
    else:
        shown = "not measured"
    console.print(f"Target: pandas / Plinth >= {TARGET_X_PANDAS:.0f}x: {shown} "
                  f"{verdict(x_pandas_ok)}")
    share = results["plinth_local_take"]["best_s"] / plinth_s
    ratios["take_over_full"] = share
    console.print(f"Target: take(5) <= {TARGET_TAKE_SHARE:.0%} of a full read: "
                  f"{share:.2%} {verdict(share <= TARGET_TAKE_SHARE)}")
    ratios["plinth_arrow_over_pyarrow_arrow"] = (results["plinth_local_arrow"]["best_s"]
                                                 / results["pyarrow_arrow"]["best_s"])
    if upload_s is not None:
        console.print(f"Uploading the files to the default datastore took {upload_s:.2f} s "
                      f"({size_mb / upload_s:,.0f} MB/s).")
    console.print(f"Data: {cache} ({'deleted' if args.clean else 'kept for the next run'}).",
                  highlight=False)

    expected = {results[k]["rows"] for k in (*full, *arrow)}
    wrong = len(expected) != 1
    if wrong:
        console.print("[red]error:[/] the ways disagree on the number of rows: "
                      + ", ".join(f"{labels[k]} {results[k]['rows']:,}" for k in (*full, *arrow)))
    short = [k for k in take if results[k]["rows"] != 5]
    for key in short:
        console.print(f"[red]error:[/] {labels[key]} returned {results[key]['rows']} rows, not 5.")

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": {**vars(args), "cache_dir": str(cache)},
        "files": len(paths),
        "bytes": total_bytes,
        "upload_to_default_s": upload_s,
        "load_average_before": load_before,
        "results": {k: {**v, "label": labels[k]} for k, v in results.items()},
        "ratios": ratios,
        "targets": {"plinth_over_pyarrow_at_most": TARGET_X_PYARROW,
                    "pandas_over_plinth_at_least": TARGET_X_PANDAS,
                    "take_share_at_most": TARGET_TAKE_SHARE},
    })
    console.print(f"Result written to {path}")
    return 1 if wrong or short else 0


if __name__ == "__main__":
    sys.exit(main())
