"""``DatastoreFiles`` over real storage: a local folder, S3 (moto) and Azure Blob (Azurite)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from plinth._data.filesystems import open_datastore, open_url, sql_url
from plinth._store.base import DatastoreRecord
from plinth.exceptions import (
    DataAccessError,
    NotFoundError,
    UserErrorException,
    ValidationError,
)

TREE = {
    "a.csv": b"x,y\n1,2\n",
    "b.csv": b"x,y\n3,4\n",
    "notes.txt": b"hello",
    "raw/2024/jan.csv": b"x\n1\n",
    "raw/2024/feb.csv": b"x\n2\n",
    "raw/2025/jan.json": b"{}",
    "raw/readme.md": b"# raw",
    "rawdata.csv": b"x\n9\n",
}


def fill(files, tmp_path: Path, tree=TREE) -> None:
    for name, data in tree.items():
        local = tmp_path / "src" / name
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        files.put_file(local, name)


# -- every storage kind ----------------------------------------------------------------------


def test_put_list_get_open_stat_delete(datastore, tmp_path):
    files = datastore
    assert files.list() == []
    fill(files, tmp_path)

    assert files.list() == sorted(TREE)
    assert files.list("raw") == [
        "raw/2024/feb.csv",
        "raw/2024/jan.csv",
        "raw/2025/jan.json",
        "raw/readme.md",
    ]
    assert files.list("raw/2024/jan.csv") == ["raw/2024/jan.csv"]
    assert files.list("nothing/here") == []
    assert files.exists("raw/2024/jan.csv") and not files.exists("raw/2024/mar.csv")

    with files.open("notes.txt") as f:
        assert f.read() == b"hello"
    files.get_file("raw/2024/feb.csv", tmp_path / "out" / "deep" / "feb.csv")
    assert (tmp_path / "out" / "deep" / "feb.csv").read_bytes() == b"x\n2\n"
    assert [p.name for p in (tmp_path / "out" / "deep").iterdir()] == ["feb.csv"]

    info = files.stat("a.csv")
    assert info["size"] == len(TREE["a.csv"])
    assert info["etag"] or info["mtime"]

    files.delete("raw/2025")
    files.delete("b.csv")
    files.delete("never-was.csv")
    assert "b.csv" not in files.list() and files.list("raw/2025") == []
    assert files.full_path("a.csv").endswith("/a.csv")


def test_overwrite_replaces_and_changes_etag_or_size(datastore, tmp_path):
    files = datastore
    local = tmp_path / "f.bin"
    local.write_bytes(b"one")
    files.put_file(local, "f.bin")
    before = files.stat("f.bin")
    local.write_bytes(b"second version")
    files.put_file(local, "f.bin")
    after = files.stat("f.bin")
    assert after["size"] == len(b"second version")
    assert (after["etag"], after["size"]) != (before["etag"], before["size"])
    assert files.list() == ["f.bin"]


def test_glob(datastore, tmp_path):
    files = datastore
    fill(files, tmp_path)
    assert files.glob("*.csv") == ["a.csv", "b.csv", "rawdata.csv"]
    assert files.glob("raw/*/*.csv") == ["raw/2024/feb.csv", "raw/2024/jan.csv"]
    assert files.glob("**/*.csv") == [
        "a.csv",
        "b.csv",
        "raw/2024/feb.csv",
        "raw/2024/jan.csv",
        "rawdata.csv",
    ]
    assert files.glob("raw/**/jan.*") == ["raw/2024/jan.csv", "raw/2025/jan.json"]
    assert files.glob("raw/**") == files.list("raw")
    assert files.glob("**") == sorted(TREE)
    assert files.glob("?.csv") == ["a.csv", "b.csv"]
    assert files.glob("[!a].csv") == ["b.csv"]
    assert files.glob("raw/202[5]/*") == ["raw/2025/jan.json"]
    # A folder matched by a wildcard brings its files, as a folder named outright does.
    assert files.glob("raw/*5") == ["raw/2025/jan.json"]
    assert files.glob("raw") == files.list("raw")
    assert files.glob("raw/2024/") == ["raw/2024/feb.csv", "raw/2024/jan.csv"]
    assert files.glob("notes.txt") == ["notes.txt"]
    assert files.glob("raw/2024/jan.csv") == ["raw/2024/jan.csv"]
    assert files.glob("nothing") == [] and files.glob("*.parquet") == []


def test_missing_files_are_not_found(datastore, tmp_path):
    files = datastore
    with pytest.raises(NotFoundError, match="missing.csv"):
        files.stat("missing.csv")
    with pytest.raises(NotFoundError, match="missing.csv"):
        files.open("missing.csv")
    with pytest.raises(NotFoundError, match="missing.csv"):
        files.get_file("missing.csv", tmp_path / "out" / "missing.csv")
    assert not (tmp_path / "out" / "missing.csv").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_names_stay_inside(datastore, tmp_path):
    (tmp_path / "f").write_bytes(b"1")
    for bad in ("../escape", "/abs/path", "a/../../b"):
        with pytest.raises(ValidationError):
            datastore.put_file(tmp_path / "f", bad)
        with pytest.raises(ValidationError):
            datastore.stat(bad)


def test_uri_and_repr_hold_no_credentials(datastore):
    for text in (datastore.uri, repr(datastore)):
        assert "AccountKey" not in text and "Eby8vdM" not in text


def test_threads_share_one_datastore(datastore, tmp_path):
    files = datastore
    sources = []
    for i in range(24):
        sources.append(tmp_path / f"s{i}")
        sources[-1].write_bytes(str(i).encode() * 100)
    errors = []

    def work(i: int) -> None:
        try:
            files.put_file(sources[i], f"t/{i:02d}")
            assert files.stat(f"t/{i:02d}")["size"] == len(str(i)) * 100
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert files.list("t") == [f"t/{i:02d}" for i in range(24)]


# -- local folders ---------------------------------------------------------------------------


def test_local_datastore_paths_and_partial_names(open_files, tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    files = open_files("Local", {"path": str(folder)})
    (tmp_path / "f").write_bytes(b"data")
    files.put_file(tmp_path / "f", "x/y.bin")
    assert files.local_path("x/y.bin") == folder / "x" / "y.bin"
    assert (folder / "x" / "y.bin").read_bytes() == b"data"
    assert files.fs is not None and files.root == str(folder)
    # A half-written upload of another process is never listed.
    (folder / "x" / "z.bin.partial-1234abcd").write_bytes(b"half")
    assert files.list() == ["x/y.bin"]
    assert files.stat("x/y.bin")["mtime"] > 0


def test_local_datastore_folder_that_is_gone(open_files, tmp_path):
    folder = tmp_path / "gone"
    files = open_files("Local", {"path": str(folder)})
    with pytest.raises(DataAccessError, match="folder .*gone.* does not exist"):
        files.list()
    with pytest.raises(DataAccessError, match="register_local"):
        files.glob("*.csv")


def test_builtin_datastore_is_a_folder_of_the_artifact_root(workspace, make_record, tmp_path):
    record = make_record("AzureBlob", {"builtin": True, "prefix": "datastores/blobstore"})
    files = open_datastore(workspace._location, record)
    (tmp_path / "f").write_bytes(b"data")
    files.put_file(tmp_path / "f", "a/b.txt")
    root = Path(workspace._location.artifact_root) / "datastores" / "blobstore"
    assert (root / "a" / "b.txt").read_bytes() == b"data"
    assert files.list() == ["a/b.txt"] and files.glob("a/*") == ["a/b.txt"]
    assert files.uri == str(root)


# -- credentials and kinds -------------------------------------------------------------------


def test_a_secret_missing_from_the_key_vault(workspace, tmp_path):
    record = DatastoreRecord(
        workspace._id,
        "blobs",
        "AzureBlob",
        0.0,
        {"container_name": "c", "account_name": "acct"},
        {"account_key": "datastore-blobs-account-key"},
    )
    with pytest.raises(DataAccessError) as info:
        open_datastore(workspace._location, record)
    message = str(info.value)
    assert "'blobs'" in message and "account_key" in message
    assert "datastore-blobs-account-key" in message
    assert "register_azure_blob_container" in message and "overwrite=True" in message


def test_unknown_kind(open_files):
    with pytest.raises(DataAccessError, match="'Ftp'"):
        open_files("Ftp", {})


def test_azure_file_share_builds_an_smb_filesystem(open_files):
    files = open_files(
        "AzureFile",
        {"file_share_name": "share", "account_name": "acct", "endpoint": "core.windows.net"},
        {"account_key": "s3cr3t-key"},
    )
    assert files.protocol == "smb"
    assert files.storage_options == {
        "host": "acct.file.core.windows.net",
        "port": 445,
        "username": "acct",
        "password": "s3cr3t-key",
        "encrypt": True,
    }
    assert files.root == "/share"
    assert files.uri == "smb://acct.file.core.windows.net/share"
    assert files.full_path("a/b.csv") == "/share/a/b.csv"
    assert files.local_path("a") is None


@pytest.mark.slow
def test_azure_file_share_that_cannot_be_reached(open_files):
    # ``.invalid`` never resolves (RFC 2606), so this fails at once, offline too.
    files = open_files(
        "AzureFile",
        {"file_share_name": "share", "account_name": "nosuch", "endpoint": "invalid"},
        {"account_key": "s3cr3t-key"},
    )
    with pytest.raises(DataAccessError) as info:
        files.list()
    message = str(info.value)
    assert "Could not reach nosuch.file.invalid:445" in message
    assert "register_azure_file_share" in message and "s3cr3t-key" not in message


def test_data_lake_gen2_options(open_files):
    principal = open_files(
        "AzureDataLakeGen2",
        {
            "filesystem": "lake",
            "account_name": "acct",
            "tenant_id": "t-1",
            "client_id": "c-1",
            "protocol": "https",
        },
        {"client_secret": "sp-secret"},
    )
    assert principal.protocol == "abfs" and principal.root == "lake"
    assert principal.storage_options == {
        "account_name": "acct",
        "use_listings_cache": False,
        "account_host": "acct.blob.core.windows.net",
        "tenant_id": "t-1",
        "client_id": "c-1",
        "client_secret": "sp-secret",
    }
    assert principal.uri == "abfs://lake@acct.dfs.core.windows.net"
    keyed = open_files(
        "AzureDataLakeGen2",
        {"filesystem": "lake", "account_name": "acct", "endpoint": "core.chinacloudapi.cn"},
        {"account_key": "a2V5"},
    )
    assert keyed.storage_options["connection_string"] == (
        "DefaultEndpointsProtocol=https;BlobEndpoint=https://acct.blob.core.chinacloudapi.cn;"
        "AccountName=acct;AccountKey=a2V5;"
    )


def test_s3_options(open_files, monkeypatch):
    files = open_files("S3", {"bucket": "bkt", "prefix": "/some/prefix/", "region": "eu-west-1"})
    assert files.protocol == "s3" and files.root == "bkt/some/prefix"
    assert files.uri == "s3://bkt/some/prefix"
    # Without keys: the default AWS credential chain (nothing passed to s3fs).
    assert files.storage_options == {
        "use_listings_cache": False,
        "client_kwargs": {"region_name": "eu-west-1"},
    }


def test_postgresql_is_not_a_file_store(open_files, make_record, workspace):
    config = {
        "server_name": "mydb",
        "database_name": "sales",
        "user_id": "reader",
        "port_number": 5432,
        "enforce_ssl": True,
    }
    with pytest.raises(UserErrorException, match="from_sql_query"):
        open_files("AzurePostgreSql", config, {"user_password": "p@ss/word"})
    record = make_record("AzurePostgreSql", config, {"user_password": "p@ss/word"})
    assert sql_url(workspace._location, record) == (
        "postgresql+psycopg://reader:p%40ss%2Fword@mydb.postgres.database.azure.com:5432/sales"
        "?sslmode=require"
    )
    for server, host in [
        ("db.example.com", "db.example.com"),
        ("localhost", "localhost"),
        ("10.0.0.5", "10.0.0.5"),
        ("::1", "[::1]"),
    ]:
        record = make_record(
            "AzurePostgreSql",
            {**config, "server_name": server, "port_number": 6543, "enforce_ssl": False},
        )
        assert sql_url(workspace._location, record) == (
            f"postgresql+psycopg://reader@{host}:6543/sales"
        )
    blob = make_record("AzureBlob", {"container_name": "c", "account_name": "a"})
    with pytest.raises(UserErrorException, match="register_azure_postgre_sql"):
        sql_url(workspace._location, blob)


# -- errors from real services ---------------------------------------------------------------


@pytest.mark.slow
def test_s3_bucket_that_does_not_exist(open_files, s3_server, tmp_path):
    files = open_files(
        "S3",
        {
            "bucket": "no-such-bucket",
            "prefix": "x",
            "endpoint_url": s3_server["FSSPEC_S3_ENDPOINT_URL"],
        },
        {"access_key_id": "test", "secret_access_key": "test"},
    )
    (tmp_path / "f").write_bytes(b"1")
    for call in (
        files.list,
        lambda: files.glob("*.csv"),
        lambda: files.stat("a"),
        lambda: files.put_file(tmp_path / "f", "a"),
    ):
        with pytest.raises(DataAccessError) as info:
            call()
        assert "bucket 'no-such-bucket'" in str(info.value)
        assert "does not exist" in str(info.value) and "register_s3" in str(info.value)


@pytest.mark.slow
def test_s3_credentials_refused(open_files, s3_strict_server, tmp_path):
    files = open_files(
        "S3",
        {"bucket": "plinth-test", "endpoint_url": s3_strict_server},
        {"access_key_id": "wrong-key-id", "secret_access_key": "wrong-secret"},
    )
    (tmp_path / "f").write_bytes(b"1")
    for call in (files.list, lambda: files.stat("a"), lambda: files.put_file(tmp_path / "f", "a")):
        with pytest.raises(DataAccessError) as info:
            call()
        message = str(info.value)
        assert "refused the credentials of datastore" in message
        assert "access key id and secret access key" in message
        assert "wrong-secret" not in message


@pytest.mark.slow
def test_s3_endpoint_that_cannot_be_reached(open_files):
    from tests.conftest import free_port

    files = open_files(
        "S3",
        {"bucket": "b", "endpoint_url": f"http://127.0.0.1:{free_port()}"},
        {"access_key_id": "k", "secret_access_key": "s"},
    )
    with pytest.raises(DataAccessError, match="Could not reach http://127.0.0.1"):
        files.list()


@pytest.mark.slow
def test_s3_prefix_and_default_credentials(open_files, s3_server, s3_client, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    prefix = f"p-{uuid.uuid4().hex[:8]}/inner"
    files = open_files(
        "S3",
        {
            "bucket": "plinth-test",
            "prefix": prefix,
            "endpoint_url": s3_server["FSSPEC_S3_ENDPOINT_URL"],
        },
    )
    (tmp_path / "f").write_bytes(b"abc")
    files.put_file(tmp_path / "f", "d/f.txt")
    key = f"{prefix}/d/f.txt"
    assert s3_client.get_object(Bucket="plinth-test", Key=key)["Body"].read() == b"abc"
    assert files.list() == ["d/f.txt"] and files.glob("**/*.txt") == ["d/f.txt"]
    assert files.stat("d/f.txt")["etag"]


@pytest.mark.slow
def test_azure_container_that_does_not_exist(open_files, azurite, tmp_path):
    files = open_files(
        "AzureBlob",
        {
            "container_name": "no-such-container",
            "account_name": azurite.account,
            "endpoint": azurite.url,
        },
        {"account_key": azurite.key},
    )
    (tmp_path / "f").write_bytes(b"1")
    for call in (
        files.list,
        lambda: files.glob("x/*.csv"),
        lambda: files.open("a"),
        lambda: files.put_file(tmp_path / "f", "a"),
    ):
        with pytest.raises(DataAccessError) as info:
            call()
        message = str(info.value)
        assert "container 'no-such-container'" in message and "does not exist" in message
        assert "register_azure_blob_container" in message


@pytest.mark.slow
def test_azure_credentials_refused(open_files, azurite, tmp_path):
    container = azurite.create_container()
    wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    files = open_files(
        "AzureBlob",
        {"container_name": container, "account_name": azurite.account, "endpoint": azurite.url},
        {"account_key": wrong},
    )
    (tmp_path / "f").write_bytes(b"1")
    for call in (files.list, lambda: files.stat("a"), lambda: files.put_file(tmp_path / "f", "a")):
        with pytest.raises(DataAccessError) as info:
            call()
        message = str(info.value)
        assert "refused the credentials" in message and "account key or SAS token" in message
        assert wrong not in message


@pytest.mark.slow
def test_azure_sas_token_and_data_lake_gen2_on_azurite(open_files, azurite, tmp_path):
    from datetime import datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container = azurite.create_container()
    sas = generate_container_sas(
        azurite.account,
        container,
        account_key=azurite.key,
        permission=ContainerSasPermissions(read=True, write=True, list=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    with_sas = open_files(
        "AzureBlob",
        {"container_name": container, "account_name": azurite.account, "endpoint": azurite.url},
        {"sas_token": sas},
    )
    (tmp_path / "f").write_bytes(b"via sas")
    with_sas.put_file(tmp_path / "f", "s/f.txt")
    assert with_sas.list() == ["s/f.txt"]
    assert "sig=" not in with_sas.uri
    # ADLS Gen2 speaks the blob API too; Azurite has no DFS endpoint, its blob one serves.
    lake = open_files(
        "AzureDataLakeGen2",
        {"filesystem": container, "account_name": azurite.account, "endpoint": azurite.url},
        {"account_key": azurite.key},
    )
    with lake.open("s/f.txt") as f:
        assert f.read() == b"via sas"
    assert lake.stat("s/f.txt")["etag"]


# -- workspaces on a server --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.remote
def test_builtin_datastore_of_a_server_workspace(plinth_server, monkeypatch, tmp_path):
    from plinth.core import Workspace

    monkeypatch.setenv("PLINTH_TOKEN", plinth_server.token)
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", server_url=plinth_server)
    record = DatastoreRecord(
        ws._id,
        "workspaceblobstore",
        "AzureBlob",
        0.0,
        {"builtin": True, "prefix": "datastores/workspaceblobstore"},
    )
    files = open_datastore(ws._location, record)
    assert files.fs is None and files.local_path("x") is None
    fill(files, tmp_path)
    assert files.list() == sorted(TREE)
    assert files.glob("raw/**/*.csv") == ["raw/2024/feb.csv", "raw/2024/jan.csv"]
    assert files.glob("raw/2024") == ["raw/2024/feb.csv", "raw/2024/jan.csv"]
    assert files.stat("notes.txt")["size"] == 5
    with files.open("notes.txt") as f:
        assert f.read() == b"hello"
    files.get_file("a.csv", tmp_path / "a.csv")
    assert (tmp_path / "a.csv").read_bytes() == TREE["a.csv"]
    files.delete("a.csv")
    assert not files.exists("a.csv")
    with pytest.raises(NotFoundError):
        files.stat("a.csv")
    assert files.uri.startswith(plinth_server) and files.uri.endswith(
        "/artifacts/datastores/workspaceblobstore"
    )


# -- URLs and local paths --------------------------------------------------------------------


def test_open_url_on_local_paths(tmp_path, monkeypatch):
    for name, data in TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    files, pattern = open_url(f"{tmp_path}/raw/*/*.csv")
    assert (files.root, pattern) == (f"{tmp_path}/raw", "*/*.csv")
    assert files.glob(pattern) == ["2024/feb.csv", "2024/jan.csv"]
    files, pattern = open_url(f"{tmp_path}/raw")
    assert (files.root, pattern) == (str(tmp_path), "raw")
    assert len(files.glob(pattern)) == 4
    files, pattern = open_url(f"file://{tmp_path}/a.csv")
    assert files.glob(pattern) == ["a.csv"] and files.local_path("a.csv") == tmp_path / "a.csv"
    monkeypatch.chdir(tmp_path)
    files, pattern = open_url("raw/**/jan.*")
    assert files.root == f"{tmp_path}/raw" and pattern == "**/jan.*"
    assert files.glob(pattern) == ["2024/jan.csv", "2025/jan.json"]
    with pytest.raises(UserErrorException):
        open_url("  ")


def test_open_url_splits_urls_without_connecting():
    files, pattern = open_url("https://user:pw@example.com/data/a/b.csv?sv=1&sig=secret")
    assert pattern == "b.csv" and files.protocol == "https"
    assert files.uri == "https://example.com/data/a"
    assert files.full_path("b.csv") == "https://user:pw@example.com/data/a/b.csv?sv=1&sig=secret"
    files, pattern = open_url("s3://bucket/x/2024-*/part-?.parquet")
    assert (files.protocol, files.root, pattern) == ("s3", "bucket/x", "2024-*/part-?.parquet")
    files, pattern = open_url("s3://bucket")
    assert (files.root, pattern) == ("bucket", "**")
    files, pattern = open_url("wasbs://cont@acct.blob.core.windows.net/d/*.csv")
    assert (files.protocol, files.root, pattern) == ("abfs", "cont/d", "*.csv")
    assert files.storage_options["account_name"] == "acct"


def test_open_url_reads_over_http(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.csv").write_bytes(b"x\n1\n")
    handler = partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/a/b.csv"
        files, pattern = open_url(url)
        assert files.glob(pattern) == ["b.csv"]
        assert files.stat("b.csv")["size"] == 4
        with files.open("b.csv") as f:
            assert f.read() == b"x\n1\n"
        files.get_file("b.csv", tmp_path / "copy.csv")
        assert (tmp_path / "copy.csv").read_bytes() == b"x\n1\n"
        assert files.glob("missing.csv") == []
    finally:
        server.shutdown()


@pytest.mark.slow
def test_open_url_on_s3_with_credentials_from_the_environment(s3_server, s3_client, monkeypatch):
    import fsspec

    monkeypatch.setitem(
        fsspec.config.conf,
        "s3",
        {"endpoint_url": s3_server["FSSPEC_S3_ENDPOINT_URL"], "key": "test", "secret": "test"},
    )
    prefix = f"u-{uuid.uuid4().hex[:8]}"
    for key in ("2024/a.csv", "2024/b.csv", "2025/c.csv", "2025/d.txt"):
        s3_client.put_object(Bucket="plinth-test", Key=f"{prefix}/{key}", Body=b"1")
    files, pattern = open_url(f"s3://plinth-test/{prefix}/*/*.csv")
    assert files.glob(pattern) == ["2024/a.csv", "2024/b.csv", "2025/c.csv"]
    assert files.uri == f"s3://plinth-test/{prefix}"
    files, pattern = open_url(f"s3://no-such-bucket-{prefix}/*.csv")
    with pytest.raises(DataAccessError, match="does not exist"):
        files.glob(pattern)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass
