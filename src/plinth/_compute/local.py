"""Processes on this machine, each in its own process group so all of it can be stopped."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["LocalProcess", "alive", "free_port", "start_detached"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so a killed worker leaves no orphan."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass


class LocalProcess:
    """A command running in a new session (its own process group)."""

    def __init__(self, command: Sequence[str], *, cwd: str | os.PathLike,
                 env: Mapping[str, str], output: IO[bytes]):
        self._popen = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.pid = self._popen.pid

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None when still running after ``timeout`` seconds."""
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 5.0) -> int:
        """SIGTERM the whole group, SIGKILL what is left after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            code = self.wait(wait)
            if code is not None:
                _kill_group(self.pid)  # children that outlived the leader
                return code
        return self._popen.wait()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_detached(command: Sequence[str], *, env: Mapping[str, str], log_path: Path,
                   cwd: str | os.PathLike | None = None) -> int:
    """Start a process that outlives this one (no pipes, own session); returns its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _children.append(popen)
    _reap()
    return popen.pid


_children: list[subprocess.Popen] = []


def _reap() -> None:
    """Collect exit codes of finished detached children so they leave no zombies."""
    for popen in list(_children):
        if popen.poll() is not None:
            _children.remove(popen)




def alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    import psutil

    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # gone, or not ours to see
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now, on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
