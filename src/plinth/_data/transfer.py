"""Parallel uploads to and downloads from datastores, with a progress bar.

A target that already exists is skipped unless ``overwrite`` (azureml's rule). The first
file that fails stops the rest: files not started are not started, those in flight finish,
then a ``DataAccessError`` names the file. A target never holds a partly copied file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from plinth._artifacts.store import check_artifact_name
from plinth._data.files import DatastoreFiles
from plinth.exceptions import DataAccessError, PlinthError, ValidationError

__all__ = ["TransferResult", "download", "download_pairs", "upload"]

#: Uploads of up to this many files ask whether each target exists; larger ones list once.
_CHECK_EACH_UP_TO = 16


@dataclass(frozen=True)
class TransferResult:
    """What a transfer did: the names copied and skipped (in the order given) and the
    bytes copied."""

    copied: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    total_bytes: int = 0


def upload(files: DatastoreFiles, pairs: Iterable[tuple[str | os.PathLike, str]], *,
           overwrite: bool = False, show_progress: bool = True,
           max_workers: int = 8) -> TransferResult:
    """Copy each ``(local_path, target_name)`` into ``files``."""
    jobs: list[tuple[str, Path, int]] = []
    seen: dict[str, Path] = {}
    for local, target in pairs:
        name = check_artifact_name(str(target), "target name")
        path = Path(local)
        if name in seen:
            raise ValidationError(
                f"Both {str(seen[name])!r} and {str(path)!r} would be uploaded to {name!r}; "
                "give each file its own target name."
            )
        seen[name] = path
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataAccessError(f"Cannot upload {str(path)!r}: {exc.strerror}.") from None
        if not path.is_file():
            raise DataAccessError(f"Cannot upload {str(path)!r}: it is not a file.")
        jobs.append((name, path, size))

    existing: set[str] | None = None
    if not overwrite and len(jobs) > _CHECK_EACH_UP_TO:
        # One listing costs less than a request per file (S3 lists 1000 names a page).
        existing = set(files.list(_common_folder([job[0] for job in jobs])))

    def one(job: tuple[str, Path, int]) -> int | None:
        name, path, size = job
        if not overwrite and (name in existing if existing is not None
                              else files.exists(name)):
            return None
        files.put_file(path, name)
        return size

    return _run(jobs, one, name_of=lambda job: job[0],
                describe=lambda job: f"Uploading {str(job[1])!r} to {job[0]!r} on {files.uri}",
                verb="Uploading", overwrite=overwrite, show_progress=show_progress,
                max_workers=max_workers)


def _common_folder(names: Sequence[str]) -> str:
    """The deepest folder that holds every one of ``names`` ('' for the root)."""
    common: list[str] = []
    for parts in zip(*(name.split("/")[:-1] for name in names), strict=False):
        if any(part != parts[0] for part in parts):
            break
        common.append(parts[0])
    return "/".join(common)


def download(files: DatastoreFiles, names: Iterable[str], target_dir: str | os.PathLike, *,
             strip_prefix: str = "", overwrite: bool = False, show_progress: bool = True,
             max_workers: int = 8) -> TransferResult:
    """Save each of ``names`` at ``target_dir/(name minus strip_prefix)``."""
    prefix = strip_prefix.replace("\\", "/").strip("/")
    prefix = check_artifact_name(prefix, "strip_prefix") + "/" if prefix else ""
    target = Path(target_dir)
    pairs = []
    for raw in names:
        name = check_artifact_name(raw)
        if not name.startswith(prefix):
            raise ValidationError(
                f"{name!r} does not start with strip_prefix={strip_prefix!r}; pass a prefix "
                "that every name starts with, or none."
            )
        pairs.append((files, name, target / name[len(prefix):]))
    return download_pairs(pairs, overwrite=overwrite, show_progress=show_progress,
                          max_workers=max_workers)


def download_pairs(pairs: Iterable[tuple[DatastoreFiles, str, str | os.PathLike]], *,
                   overwrite: bool = False, show_progress: bool = True,
                   max_workers: int = 8) -> TransferResult:
    """Save each ``(files, name, local_path)``; the files may come from several datastores."""
    jobs: list[tuple[DatastoreFiles, str, Path]] = []
    seen: dict[Path, str] = {}
    for files, name, local in pairs:
        path = Path(local).absolute()
        if path in seen:
            raise ValidationError(
                f"Both {seen[path]!r} and {name!r} would be saved at {str(path)!r}."
            )
        seen[path] = name
        jobs.append((files, check_artifact_name(name), path))

    def one(job: tuple[DatastoreFiles, str, Path]) -> int | None:
        files, name, path = job
        if not overwrite and path.exists():
            return None
        files.get_file(name, path)
        return path.stat().st_size

    return _run(jobs, one, name_of=lambda job: job[1],
                describe=lambda job: (f"Downloading {job[1]!r} from {job[0].uri} to "
                                      f"{str(job[2])!r}"),
                verb="Downloading", overwrite=overwrite, show_progress=show_progress,
                max_workers=max_workers)


def _run(jobs: Sequence[Any], work: Callable[[Any], int | None], *,
         name_of: Callable[[Any], str], describe: Callable[[Any], str], verb: str,
         overwrite: bool, show_progress: bool, max_workers: int) -> TransferResult:
    """Run ``work`` over ``jobs`` in a thread pool; it returns the bytes copied, or None for
    a skipped job."""
    if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
        raise ValidationError(f"max_workers must be a positive int, got {max_workers!r}.")
    if not jobs:
        return TransferResult()
    outcome: dict[int, int | None] = {}
    progress = _Progress(verb, len(jobs)) if show_progress else None
    lock = threading.Lock()
    stop = threading.Event()

    def run(index: int) -> None:
        if stop.is_set():  # another file failed: start nothing more
            return
        try:
            copied = work(jobs[index])
        except BaseException:
            stop.set()
            raise
        with lock:
            outcome[index] = copied
        if progress is not None:
            progress.advance(copied or 0)

    pool = ThreadPoolExecutor(min(max_workers, len(jobs)), thread_name_prefix="plinth-transfer")
    try:
        futures: dict[Future, int] = {pool.submit(run, i): i for i in range(len(jobs))}
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = sorted(futures[f] for f in done if f.exception() is not None)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        if progress is not None:
            progress.stop()
        raise
    # Stop what has not started; let what is in flight finish (it leaves nothing partial).
    pool.shutdown(wait=True, cancel_futures=True)
    if progress is not None:
        progress.stop()
    if failed:
        index = failed[0]
        exc = next(f for f, i in futures.items() if i == index).exception()
        copied = sum(1 for v in outcome.values() if v is not None)
        cause = str(exc) if isinstance(exc, PlinthError) else f"{type(exc).__name__}: {exc}"
        again = " (files that exist are skipped)" if not overwrite else ""
        raise DataAccessError(
            f"{describe(jobs[index])} failed: {cause.rstrip('.')}. {copied} other file(s) "
            f"were copied before it stopped, none partly. Fix the cause and run it again{again}."
        ) from exc
    copied_names = tuple(name_of(jobs[i]) for i in sorted(outcome) if outcome[i] is not None)
    skipped_names = tuple(name_of(jobs[i]) for i in sorted(outcome) if outcome[i] is None)
    total = sum(v for v in outcome.values() if v is not None)
    return TransferResult(copied_names, skipped_names, total)


class _Progress:
    """A rich progress bar on stderr: files done of all, bytes copied, speed."""

    def __init__(self, verb: str, count: int):
        self._bytes = 0
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            _BytesColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task(verb, total=count, bytes=0)
        self._progress.start()

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self._bytes += nbytes
            self._progress.update(self._task, advance=1, bytes=self._bytes)

    def stop(self) -> None:
        self._progress.stop()


class _BytesColumn(ProgressColumn):
    """Bytes copied so far and the average speed."""

    def render(self, task: Any) -> Any:
        from rich.filesize import decimal
        from rich.text import Text

        done = task.fields.get("bytes", 0)
        elapsed = task.finished_time if task.finished else task.elapsed
        speed = f"{decimal(int(done / elapsed))}/s" if elapsed else "?/s"
        return Text(f"{decimal(done)} {speed}", style="progress.data.speed")
