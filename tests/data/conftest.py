"""Real storage services for the data tests: Azurite (Azure Blob) and moto (S3), plus
datastore records whose credentials sit in a real workspace key vault."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import free_port, running

from plinth._store.base import DatastoreRecord

ROOT = Path(__file__).resolve().parents[2]

#: Azurite's well-known development account (public, in every Azurite install).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service: its account URL (the ``endpoint`` of a datastore)."""

    url: str
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};"
            f"AccountKey={self.key};BlobEndpoint={self.url};"
        )

    def create_container(self, name: str | None = None) -> str:
        from azure.storage.blob import BlobServiceClient

        name = name or f"c{uuid.uuid4().hex[:12]}"
        with BlobServiceClient.from_connection_string(self.connection_string) as client:
            client.create_container(name)
        return name


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Azurite:
    """Azurite's blob service from ``node_modules`` (``npm ci`` installs it). Skipped when it
    is not installed, except in CI, where that is a failure."""
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        message = (
            f"Azurite is not installed ({binary} is missing): run `npm ci` at the "
            "repository root (`make setup` does)."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    folder = tmp_path_factory.mktemp("azurite")
    command = [
        str(binary),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(folder),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
    ]
    # Any answer (Azurite says 403 to an unsigned request) means it is up.
    probe = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list"
    with running(command, probe, dict(os.environ), folder / "azurite.log"):
        yield Azurite(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")


@pytest.fixture(scope="session")
def s3_strict_server(tmp_path_factory) -> str:
    """A moto S3 server that checks credentials (the shared ``s3_server`` accepts any), with
    a bucket ``plinth-test``; yields its URL. Only the access key ``test`` is unknown to it,
    so every signed request is refused."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = Path(sys.executable).with_name("moto_server")
    # The first request (creating the bucket) goes unchecked; every later one is checked.
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": "1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    log = tmp_path_factory.mktemp("moto-strict") / "moto.log"
    with running([str(moto), "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/", env, log):
        import boto3

        boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        ).create_bucket(Bucket="plinth-test")
        yield url


@pytest.fixture
def workspace(tmp_path):
    """A new embedded workspace (its key vault holds datastore credentials)."""
    from plinth.core import Workspace

    return Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", path=tmp_path / "ws")


@pytest.fixture
def make_record(workspace) -> Callable[..., DatastoreRecord]:
    """``make_record(kind, config, secrets={setting: value}, name=...)``: a datastore record
    of ``workspace`` whose secrets are stored in its key vault."""

    def make(
        kind: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> DatastoreRecord:
        name = name or f"store_{uuid.uuid4().hex[:8]}"
        names = {k: f"datastore-{name}-{k}".replace("_", "-") for k in (secrets or {})}
        if names:
            workspace._store.set_secrets(workspace._id, {names[k]: v for k, v in secrets.items()})
        return DatastoreRecord(workspace._id, name, kind, 0.0, dict(config), names)

    return make


@pytest.fixture
def open_files(workspace, make_record) -> Callable[..., Any]:
    """``open_files(kind, config, secrets)``: a record made as ``make_record`` does, opened."""
    from plinth._data.filesystems import open_datastore

    def opened(
        kind: str, config: Mapping[str, Any], secrets: Mapping[str, str] | None = None
    ) -> Any:
        return open_datastore(workspace._location, make_record(kind, config, secrets))

    return opened


STORAGE_KINDS = [
    "Local",
    pytest.param("S3", marks=pytest.mark.slow),
    pytest.param("AzureBlob", marks=pytest.mark.slow),
]


@pytest.fixture(params=STORAGE_KINDS)
def datastore(request, tmp_path, open_files) -> Any:
    """An empty datastore of each storage kind: a local folder, a new S3 bucket (moto), a
    new Azure Blob container (Azurite); opened from a record with key-vault credentials."""
    if request.param == "Local":
        folder = tmp_path / "local-store"
        folder.mkdir()
        return open_files("Local", {"path": str(folder)})
    if request.param == "S3":
        env = request.getfixturevalue("s3_server")
        bucket = f"b-{uuid.uuid4().hex[:12]}"
        _s3_client(env).create_bucket(Bucket=bucket)
        return open_files(
            "S3",
            {"bucket": bucket, "endpoint_url": env["FSSPEC_S3_ENDPOINT_URL"]},
            {"access_key_id": "test", "secret_access_key": "test"},
        )
    azurite = request.getfixturevalue("azurite")
    return open_files(
        "AzureBlob",
        {
            "container_name": azurite.create_container(),
            "account_name": azurite.account,
            "endpoint": azurite.url,
        },
        {"account_key": azurite.key},
    )


def _s3_client(env: Mapping[str, str]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["FSSPEC_S3_ENDPOINT_URL"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )


@pytest.fixture
def s3_client(s3_server) -> Any:
    return _s3_client(s3_server)
