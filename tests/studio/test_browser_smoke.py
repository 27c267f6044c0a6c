"""The browser-test infrastructure works: headless Chromium opens Studio on a real
``plinth server``, without and with auth, and screenshots are saved."""

from __future__ import annotations

import re
import uuid

import pytest

from plinth.core import Experiment, Workspace

from .conftest import SCREENSHOTS, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def ws(tmp_path):
    ws = Workspace.create(f"smoke-{uuid.uuid4().hex[:6]}", path=tmp_path / "ws")
    run = Experiment(ws, "first-experiment").start_logging(display_name="a first run")
    run.log("accuracy", 0.9)
    run.complete()
    return ws


def expect_workspace_frame(page, ws, user: str | None = None) -> None:
    """Studio's frame on a workspace page: the brand, and (once the experiments page
    exists) the workspace's navigation with Experiments current and the signed-in user."""
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(rf"/w/{re.escape(ws.name)}/experiments$"))
    expect(page.locator("header.top .brand")).to_have_text("Plinth Studio")
    if page.title().startswith("404"):  # the page is not written yet: the error page's frame
        expect(page.get_by_role("alert")).to_be_visible()
        return
    nav = page.get_by_role("navigation", name="Workspace")
    expect(nav.get_by_role("link", name="Experiments")).to_have_attribute(
        "aria-current", "page")
    expect(nav.get_by_role("link", name="Models")).to_be_visible()
    if user is not None:
        expect(page.locator("header.top .user")).to_contain_text(user)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_studio_opens_on_the_workspace(page, studio, ws):
    server = studio(ws)
    response = page.goto(f"{server}/")
    assert response is not None and response.status in (200, 404)
    expect_workspace_frame(page, ws)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Europe/Paris"
    path = screenshot(page, "smoke-no-auth-workspace")
    assert path.parent == SCREENSHOTS and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_signing_in_with_a_token(page, studio, ws):
    from playwright.sync_api import expect

    server = studio(ws, auth=True)
    token = server.token("alice", "Owner")

    page.goto(f"{server}/")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))
    expect(page.get_by_role("heading", name="Plinth Studio")).to_be_visible()
    screenshot(page, "smoke-signin")

    page.get_by_label("Access token").fill("plt_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin$"))
    screenshot(page, "smoke-signin-wrong-token")

    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect_workspace_frame(page, ws, user="alice")
    screenshot(page, "smoke-signed-in")

    cookies = page.context.cookies()
    session = [c for c in cookies if c["value"] == token]
    assert session and session[0]["httpOnly"], "the token is kept in an HttpOnly cookie"
