"""The command of a ParallelRunStep: ``python -m plinth._serving.batch --entry-script S ...``.

It runs in the step's run (its stdout is the run's ``logs/driver.log``):

1. **Mini-batches.** Each ``--input KIND NAME VALUE`` is read: a file input's VALUE is the
   local folder (or file) the run's worker mounted or downloaded, listed recursively in
   name order and cut into lists of ``--mini-batch-size`` paths (default 10); a tabular
   input's VALUE is a dataset id, read into a pandas DataFrame and cut into consecutive
   slices of about ``--mini-batch-size`` bytes (default 1 MB, sized as CSV text).
2. **Worker processes.** ``--process-count-per-node`` processes (default: the CPUs this
   process may use, never more than there are mini-batches) are started with the ``spawn``
   method. Each makes the entry script's folder its working folder and the first entry of
   ``sys.path``, sets ``sys.argv`` to the script and the step's arguments, imports the
   script by path and calls its ``init()`` once, then takes mini-batches one at a time over
   a pipe, calls ``run(mini_batch)`` and sends back how many results it returned (and,
   for ``append_row``, the results as text lines). At the end it calls ``shutdown()`` when
   the script defines one.
3. **Supervision.** This process hands out mini-batches and waits on the workers' pipes and
   process sentinels. A ``run()`` that raises, a worker that dies, or a mini-batch running
   longer than ``--run-invocation-timeout`` seconds (its worker is killed with SIGKILL and a
   new one started, which calls ``init()`` again) is a failed try; a mini-batch is tried
   ``--run-max-try`` times in all, then its items count as failed. Items for which
   ``run()`` returned no result count as failed too. As soon as the failed items exceed
   ``--error-threshold`` (-1: never), or failed mini-batches exceed
   ``--allowed-failed-count`` or ``--allowed-failed-percent``, the workers are killed and the
   step fails (exit 1) naming the counts and the first error. ``init()`` failing also fails
   the step.
4. **Results.** With ``append_row``, results are written to
   ``<--output>/<--append-row-file-name>`` in mini-batch order (a finished mini-batch waits
   for those before it), one line per result (a DataFrame's rows as space-separated
   values). Progress lines ``N of M mini-batches, K failed items`` go to stdout at most once
   a second, and the run gets the metrics ``processed_items``, ``failed_items``,
   ``mini_batches`` and ``failed_mini_batches``.

All processes run where the step's run runs: ``--node-count`` above 1 is only reported.
Killing this process (a cancel stops the run's process group) kills the workers too; they
also get SIGKILL if this process dies.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["main", "make_batches", "Batch"]

DEFAULT_FILE_BATCH = 10
DEFAULT_TABULAR_BYTES = 1024 ** 2
_PROGRESS_EVERY = 1.0
_TRACEBACKS_SHOWN = 3
_PR_SET_PDEATHSIG = 1


# -- options -------------------------------------------------------------------------------

def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    script_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(prog="python -m plinth._serving.batch",
                                     description="Runs a ParallelRunStep's entry script.")
    parser.add_argument("--entry-script", required=True)
    parser.add_argument("--input", nargs=3, action="append", default=[],
                        metavar=("KIND", "NAME", "VALUE"))
    parser.add_argument("--output", default=None)
    parser.add_argument("--output-action", choices=("append_row", "summary_only"),
                        default="append_row")
    parser.add_argument("--append-row-file-name", default="parallel_run_step.txt")
    parser.add_argument("--mini-batch-size", default=None)
    parser.add_argument("--process-count-per-node", type=int, default=None)
    parser.add_argument("--node-count", type=int, default=1)
    parser.add_argument("--error-threshold", type=int, default=-1)
    parser.add_argument("--allowed-failed-count", type=int, default=None)
    parser.add_argument("--allowed-failed-percent", type=float, default=None)
    parser.add_argument("--run-invocation-timeout", type=float, default=60)
    parser.add_argument("--run-max-try", type=int, default=3)
    parser.add_argument("--logging-level", default="INFO")
    options = parser.parse_args(argv)
    for kind, _, _ in options.input:
        if kind not in ("file", "tabular"):
            parser.error(f"--input KIND must be 'file' or 'tabular', got {kind!r}")
    if not options.input:
        parser.error("at least one --input is needed")
    if options.run_max_try < 1 or options.run_invocation_timeout <= 0:
        parser.error("--run-max-try must be at least 1 and --run-invocation-timeout above 0")
    return options, script_args


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# -- mini-batches --------------------------------------------------------------------------

@dataclass
class Batch:
    """One mini-batch: ``items`` is a list of file paths or a pandas DataFrame."""

    index: int
    items: Any
    count: int
    label: str


def _size(value: str | None, default: int, *, files: bool) -> int:
    if value is None or value == "":
        return default
    text = value.strip()
    if files:
        if not text.isdigit() or int(text) < 1:
            raise SystemExit(f"mini_batch_size={value!r}: for files it is a number of files.")
        return int(text)
    units = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
    upper = text.upper().replace(" ", "")
    for unit in ("TB", "GB", "MB", "KB", "B"):
        if upper.endswith(unit):
            number, factor = upper[: -len(unit)], units[unit]
            break
    else:
        number, factor = upper, 1
    try:
        size = int(float(number) * factor)
    except ValueError:
        raise SystemExit(f"mini_batch_size={value!r}: for tabular data it is a size such as "
                         "'1MB'.") from None
    if size < 1:
        raise SystemExit(f"mini_batch_size={value!r} must be above 0.")
    return size


def list_files(value: str) -> list[str]:
    """The files under a local folder (or the file itself), in name order."""
    path = Path(value)
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        raise SystemExit(f"Input {value!r} is neither a file nor a folder.")
    found = []
    for folder, dirs, files in os.walk(path, followlinks=True):
        dirs.sort()
        found += [os.path.join(folder, name) for name in files]
    return sorted(found, key=lambda p: os.path.relpath(p, path).split(os.sep))


def _read_table(value: str) -> Any:
    """A tabular input (a dataset id; or a local file, for use outside a run) as a
    DataFrame."""
    import pandas as pd

    if os.path.isfile(value):
        return pd.read_parquet(value) if value.endswith(".parquet") else pd.read_csv(value)
    from plinth.core.dataset import Dataset

    run = _run_context()
    if getattr(run, "experiment", None) is None:
        raise SystemExit(f"Tabular input {value!r}: a dataset id is only readable in a run.")
    return Dataset.get_by_id(run.experiment.workspace, value).to_pandas_dataframe()


def rows_per_batch(frame: Any, batch_bytes: int) -> int:
    """How many rows make about ``batch_bytes`` of the table as CSV text (from a sample of
    at most 1,000 rows spread over it)."""
    rows = len(frame)
    if rows == 0:
        return 1
    sample = frame.iloc[:: max(1, rows // 1000)]
    text = sample.to_csv(index=False, header=False).encode()
    per_row = max(1.0, len(text) / max(1, len(sample)))
    return max(1, int(batch_bytes // per_row))


def make_batches(inputs: Sequence[tuple[str, str]], mini_batch_size: str | None
                 ) -> list[Batch]:
    """The mini-batches of ``inputs`` (``(kind, local path or dataset id)``), input by input;
    a mini-batch never spans two inputs."""
    batches: list[Batch] = []
    for kind, value in inputs:
        if kind == "file":
            size = _size(mini_batch_size, DEFAULT_FILE_BATCH, files=True)
            files = list_files(value)
            for start in range(0, len(files), size):
                chunk = files[start:start + size]
                label = os.path.basename(chunk[0]) + (
                    f" and {len(chunk) - 1} more" if len(chunk) > 1 else "")
                batches.append(Batch(len(batches), chunk, len(chunk), label))
        else:
            frame = _read_table(value)
            step = rows_per_batch(frame, _size(mini_batch_size, DEFAULT_TABULAR_BYTES,
                                               files=False))
            for start in range(0, len(frame), step):
                chunk = frame.iloc[start:start + step]
                label = f"rows {start + 1}-{start + len(chunk)}"
                batches.append(Batch(len(batches), chunk, len(chunk), label))
    return batches


# -- the worker processes ------------------------------------------------------------------

def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _load_script(path: str) -> Any:
    name = Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _result_lines(result: Any, keep: bool) -> tuple[int, list[str]]:
    """How many results ``run()`` returned, and (``keep``) each as a line of text."""
    if result is None:
        raise TypeError("run() returned None; return a list (or a pandas DataFrame) with one "
                        "result per item of the mini-batch")
    if hasattr(result, "itertuples") and hasattr(result, "columns"):
        if not keep:
            return len(result), []
        return len(result), [" ".join(str(v) for v in row)
                             for row in result.itertuples(index=False, name=None)]
    if isinstance(result, (str, bytes)) or not hasattr(result, "__iter__"):
        raise TypeError(f"run() returned a {type(result).__name__}; return a list (or a pandas "
                        "DataFrame) with one result per item of the mini-batch")
    values = list(result)
    return len(values), ([str(v) for v in values] if keep else [])


def _worker_main(conn: Any, script: str, script_args: list[str], level: str,
                 keep_results: bool) -> None:
    """A worker process: ``init()`` once, then ``run()`` per mini-batch it is sent."""
    _die_with_parent()
    folder = os.path.dirname(script)
    os.chdir(folder)
    sys.path.insert(0, folder)
    sys.argv = [script, *script_args]
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        module = _load_script(script)
        run = getattr(module, "run", None)
        if not callable(run):
            raise AttributeError(f"{os.path.basename(script)} defines no run(mini_batch)")
        init = getattr(module, "init", None)
        if callable(init):
            init()
    except BaseException:  # noqa: BLE001 - reported to the supervisor, which fails the step
        conn.send(("init_failed", traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            break
        index, items = task
        try:
            count, lines = _result_lines(run(items), keep_results)
        except BaseException as exc:  # noqa: BLE001 - a failed try of this mini-batch
            conn.send(("error", index, _one_line(exc), traceback.format_exc()))
            continue
        conn.send(("done", index, count, lines))
    shutdown = getattr(module, "shutdown", None)
    if callable(shutdown):
        shutdown()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# -- the supervisor ------------------------------------------------------------------------

@dataclass
class _Slot:
    number: int
    process: Any
    conn: Any
    ready: bool = False
    pid: int | None = None
    task: int | None = None
    started: float = 0.0


@dataclass
class Outcome:
    batches: int
    processed_items: int = 0
    failed_items: int = 0
    failed_batches: int = 0
    first_error: str | None = None
    abort: str | None = None
    worker_pids: list[int] = field(default_factory=list)


class _Supervisor:
    def __init__(self, batches: list[Batch], options: argparse.Namespace, script: str,
                 script_args: list[str], processes: int, out: Any):
        import multiprocessing

        self.context = multiprocessing.get_context("spawn")
        self.batches = batches
        self.options = options
        self.script = script
        self.script_args = script_args
        self.processes = processes
        self.out = out
        self.keep = out is not None
        self.pending: collections.deque[int] = collections.deque(range(len(batches)))
        self.tries = [0] * len(batches)
        self.finished: dict[int, list[str]] = {}
        self.written = 0
        self.slots: list[_Slot] = []
        self.started_slots = 0
        self.outcome = Outcome(len(batches))
        self.shown: set[str] = set()  # errors whose traceback the log has
        self.last_progress = 0.0
        self.last_line = ""
        self.on_started: Any = None

    # -- workers

    def start_slot(self) -> None:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main, name=f"batch-worker-{self.started_slots}",
            args=(child, self.script, self.script_args, self.options.logging_level, self.keep),
            daemon=True)
        process.start()
        child.close()
        self.slots.append(_Slot(self.started_slots, process, parent))
        self.started_slots += 1

    def stop_slot(self, slot: _Slot) -> None:
        with contextlib.suppress(Exception):
            slot.process.kill()
        slot.process.join(10)
        slot.conn.close()
        self.slots.remove(slot)

    def stop_all(self, grace: float) -> None:
        """Ask idle workers to end (their shutdown() runs); kill the rest."""
        for slot in list(self.slots):
            if slot.ready and slot.task is None:
                with contextlib.suppress(OSError, ValueError):
                    slot.conn.send(None)
        deadline = time.monotonic() + grace
        for slot in list(self.slots):
            if slot.ready and slot.task is None:
                slot.process.join(max(0.0, deadline - time.monotonic()))
            self.stop_slot(slot)

    # -- the loop

    def unfinished(self) -> int:
        return len(self.batches) - len(self.finished) - self.written

    def run(self) -> Outcome:
        try:
            self.loop()
        finally:
            self.stop_all(grace=0 if self.outcome.abort else self.options.run_invocation_timeout)
        return self.outcome

    def loop(self) -> None:
        from multiprocessing.connection import wait

        timeout = self.options.run_invocation_timeout
        while self.unfinished() and not self.outcome.abort:
            while len(self.slots) < min(self.processes, self.unfinished()):
                self.start_slot()
            if self.on_started is not None:
                self.on_started()  # while the workers start
                self.on_started = None
            for slot in self.slots:
                if slot.ready and slot.task is None and self.pending:
                    self.dispatch(slot)
            now = time.monotonic()
            deadlines = [s.started + timeout - now for s in self.slots if s.task is not None]
            wait_for = max(0.0, min([_PROGRESS_EVERY, *deadlines]))
            ready = wait([obj for s in self.slots for obj in (s.conn, s.process.sentinel)],
                         wait_for)
            for slot in list(self.slots):
                if slot.conn in ready or slot.process.sentinel in ready:
                    self.receive(slot)
                if self.outcome.abort:
                    return
            now = time.monotonic()
            for slot in list(self.slots):
                if slot.task is not None and now - slot.started > timeout:
                    if _has_message(slot):  # it answered just now
                        self.receive(slot)
                        continue
                    index = slot.task
                    self.stop_slot(slot)
                    self.failed_try(index, f"TimeoutError: run() took longer than "
                                           f"run_invocation_timeout={_seconds(timeout)} s; its "
                                           f"worker process was killed", None)
            self.progress()

    def dispatch(self, slot: _Slot) -> None:
        index = self.pending.popleft()
        self.tries[index] += 1
        slot.task = index
        slot.started = time.monotonic()
        with contextlib.suppress(OSError):  # a dead worker: its sentinel says so next
            slot.conn.send((index, self.batches[index].items))

    def receive(self, slot: _Slot) -> None:
        while True:
            try:
                if not slot.conn.poll():
                    break
                message = slot.conn.recv()
            except (EOFError, OSError):
                break
            self.handle(slot, message)
            if self.outcome.abort:
                return
        if not slot.process.is_alive() and slot in self.slots:
            self.died(slot)

    def handle(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            slot.ready, slot.pid = True, message[1]
            self.outcome.worker_pids.append(message[1])
            _say(f"Worker process {slot.number} (pid {slot.pid}) is ready: init() returned.")
        elif kind == "init_failed":
            self.outcome.first_error = self.outcome.first_error or _last_line(message[1])
            self.outcome.abort = (f"init() of {os.path.basename(self.script)} failed in worker "
                                  f"process {slot.number}:\n{message[1].rstrip()}")
        elif kind == "error":
            _, index, error, detail = message
            slot.task = None
            self.failed_try(index, error, detail)
        elif kind == "done":
            _, index, count, lines = message
            slot.task = None
            self.succeeded(index, count, lines)

    def died(self, slot: _Slot) -> None:
        code = slot.process.exitcode
        index, was_ready = slot.task, slot.ready
        self.stop_slot(slot)
        how = f"was killed by signal {-code}" if code and code < 0 else f"exited with code {code}"
        if not was_ready:
            self.outcome.abort = (f"A worker process {how} before init() of "
                                  f"{os.path.basename(self.script)} finished.")
        elif index is not None:
            self.failed_try(index, f"WorkerDied: the worker process {how} while running "
                                   "run()", None)

    # -- outcomes

    def succeeded(self, index: int, count: int, lines: list[str]) -> None:
        batch = self.batches[index]
        done = min(count, batch.count)
        self.outcome.processed_items += done
        if done < batch.count:
            missing = batch.count - done
            self.outcome.failed_items += missing
            error = (f"run() returned {count} result(s) for {batch.count} item(s); "
                     f"{missing} item(s) count as failed")
            self.outcome.first_error = self.outcome.first_error or (
                f"mini-batch {index + 1} ({batch.label}): {error}")
            _say(f"Mini-batch {index + 1} of {len(self.batches)} ({batch.label}): {error}.")
        self.finish(index, lines)

    def failed_try(self, index: int, error: str, detail: str | None) -> None:
        batch = self.batches[index]
        tries, most = self.tries[index], self.options.run_max_try
        where = f"Mini-batch {index + 1} of {len(self.batches)} ({batch.label})"
        if tries < most:
            _say(f"{where} failed (try {tries} of {most}): {error}; trying again.")
            self.pending.append(index)
        else:
            _say(f"{where} failed (try {tries} of {most}): {error}; its {batch.count} "
                 "item(s) count as failed.")
            self.outcome.failed_batches += 1
            self.outcome.failed_items += batch.count
            self.outcome.first_error = self.outcome.first_error or (
                f"mini-batch {index + 1} ({batch.label}): {error}")
            self.finish(index, [])
        if detail and error not in self.shown and len(self.shown) < _TRACEBACKS_SHOWN:
            self.shown.add(error)
            print(detail.rstrip(), flush=True)

    def finish(self, index: int, lines: list[str]) -> None:
        self.finished[index] = lines
        while self.written in self.finished:
            done = self.finished.pop(self.written)
            if self.out is not None and done:
                self.out.write("\n".join(done) + "\n")
            self.written += 1
        self.outcome.abort = self.outcome.abort or self.exceeded()

    def exceeded(self) -> str | None:
        o, opts = self.outcome, self.options
        counts = (f"{o.failed_items} failed item(s), {o.failed_batches} of {o.batches} "
                  "mini-batch(es) failed")
        if opts.error_threshold >= 0 and o.failed_items > opts.error_threshold:
            return f"{counts}: more than error_threshold={opts.error_threshold}."
        if opts.allowed_failed_count is not None and opts.allowed_failed_count >= 0 \
                and o.failed_batches > opts.allowed_failed_count:
            return f"{counts}: more than allowed_failed_count={opts.allowed_failed_count}."
        percent = opts.allowed_failed_percent
        if percent is not None and o.failed_batches * 100 > percent * o.batches:
            return f"{counts}: more than allowed_failed_percent={percent:g}%."
        return None

    def progress(self, final: bool = False) -> None:
        now = time.monotonic()
        done = self.written + len(self.finished)
        line = (f"{done} of {len(self.batches)} mini-batches, "
                f"{self.outcome.failed_items} failed items")
        if line != self.last_line and (final or now - self.last_progress >= _PROGRESS_EVERY):
            self.last_progress, self.last_line = now, line
            _say(line)


def _has_message(slot: _Slot) -> bool:
    try:
        return bool(slot.conn.poll())
    except (EOFError, OSError):
        return False


def _seconds(value: float) -> str:
    return f"{value:g}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


# -- main ----------------------------------------------------------------------------------

def _run_context() -> Any:
    """The step's run (``Run.get_context()``: made once, so the first call pays for the
    imports and the store)."""
    from plinth.core.run import Run

    return Run.get_context()


def _log_metrics(outcome: Outcome) -> None:
    run = _run_context()
    if getattr(run, "experiment", None) is None:
        return  # not in a run: the summary line says it all
    run.log("processed_items", outcome.processed_items)
    run.log("failed_items", outcome.failed_items)
    run.log("mini_batches", outcome.batches)
    run.log("failed_mini_batches", outcome.failed_batches)
    run.flush()


def main(argv: Sequence[str] | None = None) -> int:
    options, script_args = _parse(sys.argv[1:] if argv is None else argv)
    script = os.path.abspath(options.entry_script)
    if not os.path.isfile(script):
        print(f"entry_script {options.entry_script!r} is not in the step's source folder "
              f"{os.getcwd()}.", flush=True)
        return 2
    keep = options.output_action == "append_row"
    output = Path(options.output or "outputs").resolve()
    batches = make_batches([(kind, value) for kind, _, value in options.input],
                           options.mini_batch_size)
    items = sum(b.count for b in batches)
    cpus = _available_cpus()
    processes = options.process_count_per_node or cpus
    names = ", ".join(name for _, name, _ in options.input)
    _say(f"Input {names}: {items} item(s) in {len(batches)} mini-batch(es); "
         f"{min(processes, len(batches)) if batches else 0} worker process(es) run "
         f"{os.path.basename(script)} (process_count_per_node={processes}, "
         f"run_invocation_timeout={_seconds(options.run_invocation_timeout)} s, "
         f"run_max_try={options.run_max_try}, error_threshold={options.error_threshold}).")
    if options.node_count > 1:
        _say(f"node_count={options.node_count}: all worker processes run on this step's node "
             f"({processes} process(es) in all, not {processes * options.node_count}).")
    out = None
    if keep:
        output.mkdir(parents=True, exist_ok=True)
        out = open(output / options.append_row_file_name, "w", encoding="utf-8")
    try:
        supervisor = _Supervisor(batches, options, script, script_args, processes, out)
        supervisor.on_started = _run_context
        outcome = supervisor.run() if batches else Outcome(0)
        supervisor.progress(final=True)
    finally:
        if out is not None:
            out.close()
    _log_metrics(outcome)
    if outcome.abort:
        print(f"ParallelRunStep failed: {outcome.abort}", flush=True)
        if outcome.first_error and outcome.first_error not in outcome.abort:
            print(f"First error: {outcome.first_error}", flush=True)
        return 1
    _say(f"Done: {outcome.processed_items} item(s) processed, {outcome.failed_items} failed "
         f"({outcome.failed_batches} of {outcome.batches} mini-batch(es) failed)"
         + (f"; results in {output / options.append_row_file_name}." if keep else "."))
    if outcome.first_error:
        _say(f"First error: {outcome.first_error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
