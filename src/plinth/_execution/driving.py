"""What the processes that run other runs share (the pipeline driver, the sweep driver):
a progress log in the parent run's files, and a ``main`` that never leaves the run active."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from plinth._artifacts import ArtifactStore
from plinth._location import ENV_WORKSPACE, WorkspaceLocation
from plinth._store import RunStatus

__all__ = ["DRIVER_LOG", "Driver", "DriverLog", "driver_main"]

DRIVER_LOG = "logs/driver.log"


class DriverLog:
    """Timestamped lines in ``runs/<run id>/logs/driver.log``, rewritten whole on each line
    (a few dozen lines at most), so any artifact root shows them as they come."""

    def __init__(self, artifacts: ArtifactStore, run_id: str):
        self.artifacts = artifacts
        self.name = f"runs/{run_id}/{DRIVER_LOG}"
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(f"[{time.strftime('%H:%M:%S')}] {line}\n")
        self.artifacts.put_bytes(self.name, "".join(self.lines).encode())


class Driver(Protocol):
    def run(self) -> None: ...
    def say(self, line: str) -> None: ...
    def abandon(self) -> None:
        """Stop what the driver started, when it fails."""


def driver_main(make: Callable[[WorkspaceLocation, str], Driver], what: str
                ) -> Callable[[list[str] | None], int]:
    """The ``main(argv)`` of a driver module: ``python -m <module> RUN_ID`` with
    ``PLINTH_WORKSPACE`` set runs ``make(location, run_id).run()``; if that fails, the
    traceback goes to the log, ``abandon()`` is called and the run ends Failed."""

    def main(argv: list[str] | None = None) -> int:
        argv = sys.argv[1:] if argv is None else argv
        run_id = argv[0]
        location = WorkspaceLocation.from_env()
        if location is None:
            print(f"{ENV_WORKSPACE} is not set; the {what} driver is started by submit().")
            return 2
        driver: Any = None
        try:
            driver = make(location, run_id)
            driver.run()
            return 0
        except BaseException as exc:  # noqa: BLE001 - the run must not stay active
            detail = traceback.format_exc()
            if driver is not None:
                try:
                    driver.say(detail)
                    driver.abandon()
                except Exception:  # noqa: BLE001
                    pass
            location.store().set_status(run_id, RunStatus.FAILED, error={
                "code": "SystemError",
                "message": f"The {what} could not be run: {exc!r}",
                "traceback": detail[-4000:],
            })
            return 1

    return main
