"""The Store suite on ``RestStore``: every call over HTTP to a real ``plinth server``.

The server is the session's ``plinth_server`` (PostgreSQL + moto S3); the stores here call it
with the token of its admin, who owns every workspace the suite creates through it.

A ``RestStore`` is bound to one workspace name: calls that take a workspace id find the
workspace's name from the id (``RestStore._names``), but calls that take only an experiment
or run id go to the bound workspace. So each test gets its own store factory, bound to a
workspace name chosen for that test, and the ``ws`` fixture creates the workspace of that
name; the stores of the test's child processes are bound to it too.
"""

from __future__ import annotations

import functools
import uuid

import pytest

from plinth._api.client import ApiClient
from plinth._store.rest import RestStore

from . import suite
from .suite import StoreSuite

pytestmark = [pytest.mark.postgres, pytest.mark.remote, pytest.mark.slow]

process_pool = suite.process_pool  # the fixture; a module of StoreSuite tests must have it


def open_rest_store(server_url: str, token: str, workspace_name: str,
                    **kwargs: object) -> RestStore:
    """A ``RestStore`` of ``workspace_name`` on ``server_url``, with a client of its own
    (module-level, so ``functools.partial`` of it can be pickled into worker processes)."""
    headers = {"Authorization": f"Bearer {token}"}
    return RestStore(ApiClient(server_url, headers=lambda: headers), workspace_name, **kwargs)


class TestRestStore(StoreSuite):
    """Through the server: its routes, its auth and its own ``SqlStore`` on PostgreSQL."""

    supports = StoreSuite.supports - {
        "heartbeat_timeout",  # the server applies its own (PLINTH_HEARTBEAT_TIMEOUT=15)
        "users",  # users, roles and tokens are administered on the server's database
        "runs_in_other_workspaces",  # runs and experiments by id: only the bound workspace's
    }

    @pytest.fixture
    def store_factory(self, plinth_server):
        return functools.partial(open_rest_store, str(plinth_server), plinth_server.token,
                                 f"ws-{uuid.uuid4().hex[:10]}")

    @pytest.fixture
    def store(self, store_factory):
        store = store_factory()
        yield store
        store.close()

    @pytest.fixture
    def ws(self, store):
        """The workspace this test's stores are bound to."""
        return store.create_workspace(store.workspace_name, {})
