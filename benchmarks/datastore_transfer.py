"""Datastore transfers: ``Datastore.upload``/``download`` beside a plain copy.

Two sets of random files in a temp folder: many small ones (``--small-files`` x
``--small-kb`` KB, default 2,000 x 4 KB) and a few large ones (``--large-files`` x
``--large-mb`` MB, default 4 x 64 MB); 1 KB = 10^3 and 1 MB = 10^6 bytes. Each set is
uploaded, then downloaded into a local folder:

* the default datastore of an embedded workspace (a folder under the workspace), with
  ``datastore.upload(src_dir, target_path, overwrite=True, show_progress=False)`` and
  ``datastore.download(target, prefix, overwrite=True, show_progress=False)``, beside
  ``shutil.copytree(..., dirs_exist_ok=True)`` of the same files (up: source -> a folder,
  down: that folder -> another);
* an S3 datastore (``Datastore.register_s3``) on moto's standalone server (``moto_server``
  next to this interpreter, on a free port; ``--no-s3`` skips it), beside a plain sequential
  loop of boto3 ``upload_file`` / ``download_file`` on the same server.

Every transfer goes to the same place each time, overwriting, after ``--warmup`` (1)
unmeasured rounds; the best of ``--repeat`` (3) interleaved rounds is shown. Downloads are
checked (count and bytes) after the timings.

    .venv/bin/python benchmarks/datastore_transfer.py [--small-files 2000] [--large-files 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import machine_info, write_result

NAME = "datastore_transfer"
KB, MB = 1_000, 1_000_000
BUCKET = "plinth-bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1"}


# --------------------------------------------------------------------------- files


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` files of ``size`` random bytes, in two levels of sub-folders for many."""
    paths = []
    chunk = os.urandom(min(size, 4 * MB))
    for i in range(count):
        sub = folder / f"d{i // 500:03d}" if count > 500 else folder
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"f{i:06d}.bin"
        with open(path, "wb") as out:
            left = size
            while left:
                # Vary the start so that no two files are equal (no store may deduplicate).
                piece = (i.to_bytes(8, "little") + chunk)[: min(left, len(chunk))]
                out.write(piece)
                left -= len(piece)
        paths.append(path)
    return paths


def describe(count: int, size: int) -> str:
    """``2,000 x 4 KB``, ``4 x 64 MB``."""
    return f"{count:,} x {size / KB:g} KB" if size < MB else f"{count:,} x {size / MB:g} MB"


def tree_bytes(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``."""
    files = total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            files += 1
            total += path.stat().st_size
    return files, total


# --------------------------------------------------------------------------- moto


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(log: Path, timeout: float = 120) -> Iterator[str]:
    """moto's standalone S3 server on a free port; yields its URL, stops it at the end."""
    import httpx

    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        raise SystemExit(f"error: {moto} is missing (pip install 'moto[server]'), or pass "
                         "--no-s3.")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                                   env={**os.environ, **CREDENTIALS}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(f"error: moto_server exited with {process.returncode}; "
                                 f"see {log}")
            try:
                if httpx.get(f"{url}/", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"error: moto_server did not answer within {timeout:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def boto3_client(url: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=url, aws_access_key_id="test",
                        aws_secret_access_key="test", region_name="us-east-1")


def boto3_upload(client: Any, src: Path, prefix: str) -> None:
    for path in sorted(src.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(src).as_posix()}")


def boto3_download(client: Any, prefix: str, target: Path) -> None:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                 Prefix=f"{prefix}/"):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    for key in keys:
        path = target / key
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(BUCKET, key, str(path))


# --------------------------------------------------------------------------- timing


def timed_rounds(cases: dict[str, Callable[[], Any]], repeat: int, warmup: int,
                 console: Any) -> dict[str, dict]:
    """Each case ``warmup`` + ``repeat`` times, interleaved; best and median seconds."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    for round_ in range(warmup + repeat):
        measured = round_ >= warmup
        which = (f"run {round_ - warmup + 1}/{repeat}" if measured
                 else f"warm-up {round_ + 1}/{warmup}")
        console.print(f"  {which} ...", highlight=False)
        for key, fn in cases.items():
            started = time.perf_counter()
            fn()
            if measured:
                times[key].append(time.perf_counter() - started)
    return {k: {"best_s": min(v), "median_s": statistics.median(v), "all_s": v}
            for k, v in times.items()}


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-files", type=int, default=2000, help="small files (2000)")
    parser.add_argument("--small-kb", type=int, default=4, help="KB per small file (4)")
    parser.add_argument("--large-files", type=int, default=4, help="large files (4)")
    parser.add_argument("--large-mb", type=int, default=64, help="MB per large file (64)")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds; best shown (3)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (1)")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (moto) datastore")
    args = parser.parse_args()
    if min(args.small_files, args.small_kb, args.large_files, args.large_mb, args.repeat) < 1 \
            or args.warmup < 0:
        parser.error("the counts, sizes and --repeat must be at least 1, --warmup at least 0")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # rich's 80-column default wraps the tables
    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-transfer-"))
    load_before = os.getloadavg()[0]
    saved_home = os.environ.get("PLINTH_HOME")
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # keep ~/.plinth's registry clean
    sets = {"small": (args.small_files, args.small_kb * KB),
            "large": (args.large_files, args.large_mb * MB)}
    results: dict[str, dict[str, dict]] = {}
    problems: list[str] = []
    try:
        console.print(f"Making {args.small_files:,} x {args.small_kb} KB and "
                      f"{args.large_files} x {args.large_mb} MB random files ...")
        for key, (count, size) in sets.items():
            make_files(tmp / "src" / key, count, size)
        from plinth.core import Datastore, Workspace

        ws = Workspace.create("bench", path=tmp / "plinth-ws")
        stores = {"default": ws.get_default_datastore()}
        with contextlib.ExitStack() as stack:
            client = None
            if not args.no_s3:
                console.print("Starting moto_server ...")
                url = stack.enter_context(moto_server(tmp / "moto.log"))
                client = boto3_client(url)
                client.create_bucket(Bucket=BUCKET)
                stores["s3"] = Datastore.register_s3(
                    ws, "s3", bucket=BUCKET, endpoint_url=url, access_key_id="test",
                    secret_access_key="test")
            for key in sets:
                src = tmp / "src" / key
                cases: dict[str, Callable[[], Any]] = {}
                for store_key, store in stores.items():
                    down = tmp / f"down-plinth-{store_key}-{key}"

                    def up(store=store, src=src, key=key) -> None:
                        store.upload(src, f"plinth/{key}", overwrite=True, show_progress=False)

                    def get(store=store, down=down, key=key) -> None:
                        store.download(down, f"plinth/{key}", overwrite=True,
                                       show_progress=False)

                    cases[f"{store_key}_plinth_up"] = up
                    cases[f"{store_key}_plinth_down"] = get
                    if store_key == "default":
                        copy_up, copy_down = tmp / f"copy-up-{key}", tmp / f"copy-down-{key}"
                        cases["default_plain_up"] = (
                            lambda src=src, dst=copy_up: shutil.copytree(src, dst,
                                                                         dirs_exist_ok=True))
                        cases["default_plain_down"] = (
                            lambda src=copy_up, dst=copy_down: shutil.copytree(
                                src, dst, dirs_exist_ok=True))
                    else:
                        boto_down = tmp / f"down-boto3-{key}"
                        cases["s3_plain_up"] = (
                            lambda src=src, key=key: boto3_upload(client, src, f"boto3/{key}"))
                        cases["s3_plain_down"] = (
                            lambda key=key, dst=boto_down: boto3_download(client, f"boto3/{key}",
                                                                          dst))
                count, size = sets[key]
                console.print(f"{key} files, {describe(count, size)}: "
                              f"{args.warmup} warm-up + {args.repeat} measured rounds ...")
                results[key] = timed_rounds(cases, args.repeat, args.warmup, console)
                # Check what the downloads left: every file, every byte.
                expected = (count, count * size)
                checks = {f"{s}_plinth_down": tmp / f"down-plinth-{s}-{key}" / "plinth" / key
                          for s in stores}
                checks["default_plain_down"] = tmp / f"copy-down-{key}"
                if "s3" in stores:
                    checks["s3_plain_down"] = tmp / f"down-boto3-{key}" / "boto3" / key
                for case, folder in checks.items():
                    got = tree_bytes(folder)
                    if got != expected:
                        problems.append(f"{key} {case}: {got[0]:,} files, {got[1]:,} bytes in "
                                        f"{folder}; expected {expected[0]:,}, {expected[1]:,}")
                # Free the disk before the next set.
                for path in tmp.glob(f"*-{key}"):
                    shutil.rmtree(path, ignore_errors=True)
        ws._location.forget()  # close the store before its folder is deleted
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if saved_home is None:
            os.environ.pop("PLINTH_HOME", None)
        else:
            os.environ["PLINTH_HOME"] = saved_home

    labels = {"default": ("default", "copytree"), "s3": ("S3, moto", "boto3 loop")}
    table = Table(title=f"Datastore upload and download ({os.cpu_count()} CPUs, best of "
                        f"{args.repeat})",
                  caption="Plinth / plain: Plinth's speed over the plain copy's (the plain "
                          "copy's seconds over Plinth's); above 1 is faster. Load average "
                          f"before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}.")
    for column in ("data", "store", "way", "how", "best s", "median s", "files/s", "MB/s",
                   "Plinth/plain"):
        table.add_column(column, justify="left" if column in ("data", "store", "way", "how")
                         else "right")
    ratios: dict[str, float] = {}
    for key, timings in results.items():
        count, size = sets[key]
        what = describe(count, size)
        for store_key in labels:
            if f"{store_key}_plinth_up" not in timings:
                continue
            for way in ("up", "down"):
                plinth = timings[f"{store_key}_plinth_{way}"]
                plain = timings[f"{store_key}_plain_{way}"]
                ratio = plain["best_s"] / plinth["best_s"]
                ratios[f"{key}_{store_key}_{way}"] = ratio
                for i, (how, r) in enumerate((("Plinth", plinth),
                                              (labels[store_key][1], plain))):
                    table.add_row(what if (way, i) == ("up", 0) else "",
                                  labels[store_key][0] if i == 0 else "",
                                  way if i == 0 else "", how, f"{r['best_s']:.3f}",
                                  f"{r['median_s']:.3f}", f"{count / r['best_s']:,.0f}",
                                  f"{count * size / MB / r['best_s']:,.1f}",
                                  f"{ratio:.2f}x" if i == 0 else "",
                                  end_section=(way, i) == ("down", 1))
    console.print(table)
    for problem in problems:
        console.print(f"[red]error:[/] {problem}", highlight=False)

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": vars(args),
        "load_average_before": load_before,
        "results": results,
        "ratios_plain_over_plinth": ratios,
        "problems": problems,
    })
    console.print(f"Result written to {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
