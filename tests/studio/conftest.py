"""Browser tests of Studio: headless Chromium (Debian's ``chromium`` package) driven by
Playwright's sync API, against real ``plinth server`` processes.

- ``browser`` (session): the launched Chromium. Skips when Playwright or Chromium is missing,
  except in CI (``CI`` set), where that fails the tests, as a missing PostgreSQL does.
- ``page``: a new page in a new browser context per test (1280x800, time zone
  ``Europe/Paris``, so times the pages show in the viewer's zone are exercised).
- ``studio``: starts ``plinth server --workspace FOLDER`` for an embedded workspace, with or
  without auth; stopped at the end of the test.
- ``screenshot(page, name)``: a full-page PNG under ``test-artifacts/screenshots/``.

Mark browser tests ``@pytest.mark.slow`` and ``@pytest.mark.browser``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port, running

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEZONE = "Europe/Paris"
VIEWPORT = {"width": 1280, "height": 800}
#: Chromium on a closed network: no sandbox (root in a container), no GPU, and none of the
#: background requests (updates, sync, QUIC probes) that would hang or spam the logs.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_path() -> str | None:
    """Chromium to drive: ``$PLINTH_CHROMIUM``, else ``chromium`` on the PATH, else None."""
    found = os.environ.get("PLINTH_CHROMIUM") or shutil.which("chromium")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so browser tests fail instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, launched once per session (Playwright ``Browser``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: uv pip install -e '.[dev]'")
    executable = chromium_path()
    if executable is None:
        _missing("Chromium is not installed: apt-get install -y chromium "
                 "(Playwright's own browser downloads are not used)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser):
    """A page in a fresh context (no cookies from other tests), 1280x800, in Europe/Paris."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id=TIMEZONE, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG of ``page`` as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class StudioServer(str):
    """A running ``plinth server --workspace FOLDER``: its URL (this is a ``str``), the
    ``workspace`` it serves (a ``Workspace`` in this process, on the same files), its
    ``folder``, whether it has ``auth`` and the environment it runs in (``env``)."""

    workspace: object
    folder: Path
    auth: bool
    env: dict[str, str]
    log: Path

    def admin(self, *args: str) -> str:
        """Run ``plinth ARGS --workspace-folder FOLDER`` (``user``, ``token``); its stdout."""
        plinth = Path(sys.executable).with_name("plinth")
        done = subprocess.run([str(plinth), *args, "--workspace-folder", str(self.folder)],
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def token(self, user: str, role: str = "Owner") -> str:
        """A new user with ``role`` on the workspace, and an access token of theirs."""
        self.admin("user", "create", user, "--role", role, "--workspace", self.workspace.name)
        return json.loads(self.admin("token", "create", user, "--json"))["token"]


@pytest.fixture
def studio(tmp_path):
    """``studio(ws, auth=False)``: serve the embedded workspace ``ws`` with ``plinth server``
    (``--no-auth`` unless ``auth``) on a free port; returns a ``StudioServer``. Every server
    started is stopped at the end of the test."""
    import contextlib

    stack = contextlib.ExitStack()

    def start(ws, auth: bool = False) -> StudioServer:
        port = free_port()
        server = StudioServer(f"http://127.0.0.1:{port}")
        server.workspace, server.auth = ws, auth
        server.folder = Path(ws._location.folder)
        server.env = {**os.environ, "PLINTH_SCHEDULER": "0", "PLINTH_SUPERVISOR": "0"}
        for name in ("PLINTH_TOKEN", "PLINTH_TENANT_ID", "PLINTH_CLIENT_ID",
                     "PLINTH_CLIENT_SECRET", "PLINTH_SERVER_SECRET", "PLINTH_STUDIO_URL"):
            server.env.pop(name, None)
        plinth = Path(sys.executable).with_name("plinth")
        command = [str(plinth), "server", "--workspace", str(server.folder),
                   "--port", str(port), "--log-level", "warning"]
        if not auth:
            command.append("--no-auth")
        server.log = tmp_path / f"server-{port}.log"
        stack.enter_context(running(command, f"{server}/healthz", server.env, server.log))
        return server

    with stack:
        yield start
