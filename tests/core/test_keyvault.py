"""The workspace key vault: ``ws.get_default_keyvault()``, ``run.get_secret``, and secrets
encrypted at rest with a key kept outside the metadata database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from tests.conftest import write_script

from plinth.core import Experiment, Keyvault, ScriptRunConfig, Workspace
from plinth.exceptions import NotFoundError, StoreError, UserErrorException, ValidationError

VALUE = "s3cr3t-" + "Zq9"  # split, so the constant itself is not one string in this file


def _value() -> str:
    """A value that appears nowhere until a test sets it."""
    return f"{VALUE}-{uuid.uuid4().hex}"


def _pg(uri: str):
    import psycopg

    return psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True, connect_timeout=5)


def _stored(ws: Workspace, backend: str, request) -> list[str]:
    """The ``ciphertext`` column of the workspace's secrets, read from the database itself
    (for a remote workspace, the server's)."""
    if backend == "sqlite":
        with sqlite3.connect(ws._location.folder / "plinth.db") as conn:
            rows = conn.execute("SELECT ciphertext FROM secrets WHERE workspace_id = ?",
                                (ws._id,)).fetchall()
        return [r[0] for r in rows]
    if backend == "remote":
        uri = request.getfixturevalue("plinth_server").database
    else:
        uri = ws._location.metadata_uri
    with _pg(uri) as conn:
        return [r[0] for r in conn.execute(
            "SELECT ciphertext FROM secrets WHERE workspace_id = %s", (ws._id,))]


def _sibling(ws: Workspace, backend: str, tmp_path: Path, name: str | None = None) -> Workspace:
    """A workspace in the same place as ``ws`` (the same database or server)."""
    name = name or f"ws-{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        return Workspace.create(name, path=tmp_path / name)
    if backend == "remote":
        return Workspace.create(name, server_url=ws._location.server_url)
    return Workspace.create(name, metadata_uri=ws._location.metadata_uri,
                            artifact_root=ws._location.artifact_root)


# -- the Keyvault API ---------------------------------------------------------------------------


def test_set_get_list_delete(ws):
    kv = ws.get_default_keyvault()
    assert isinstance(kv, Keyvault) and kv.workspace == ws
    assert kv.list_secrets() == []
    first, second = _value(), _value()
    kv.set_secret("db-password", first)
    kv.set_secret(name="API-key-2", value=second)
    assert kv.get_secret("db-password") == first
    assert kv.get_secret(name="API-key-2") == second
    assert kv.list_secrets() == [{"name": "API-key-2"}, {"name": "db-password"}]

    replaced = _value()
    kv.set_secret("db-password", replaced)
    assert kv.get_secret("db-password") == replaced
    assert len(kv.list_secrets()) == 2

    kv.delete_secret("db-password")
    assert kv.list_secrets() == [{"name": "API-key-2"}]
    with pytest.raises(NotFoundError):
        kv.get_secret("db-password")
    # Another Keyvault object (and a reopened workspace) sees the same secrets.
    reopened = Workspace(_location=ws._location).get_default_keyvault()
    assert reopened.get_secret("API-key-2") == second


def test_set_secrets_and_get_secrets(ws):
    kv = ws.get_default_keyvault()
    values = {f"k-{i}": _value() for i in range(5)}
    kv.set_secrets(values)
    assert kv.get_secrets(list(values)) == values
    # azureml returns found and not found secrets: None for a missing name.
    assert kv.get_secrets(["k-1", "missing", "k-3"]) == {
        "k-1": values["k-1"], "missing": None, "k-3": values["k-3"]
    }
    assert kv.get_secrets([]) == {}
    kv.set_secrets(secrets={"k-0": "new", "k-9": ""})  # the brief's keyword works too
    assert kv.get_secrets(("k-0", "k-9")) == {"k-0": "new", "k-9": ""}
    assert [s["name"] for s in kv.list_secrets()] == [*sorted(values), "k-9"]
    kv.delete_secrets(["k-0", "k-1"])
    assert "k-0" not in {s["name"] for s in kv.list_secrets()}


def test_missing_secret_errors(ws):
    kv = ws.get_default_keyvault()
    kv.set_secret("present", _value())
    with pytest.raises(NotFoundError, match="No secret named 'absent'.*list_secrets"):
        kv.get_secret("absent")
    with pytest.raises(NotFoundError, match="'absent'"):
        kv.delete_secret("absent")
    # delete_secrets is all or none: one missing name deletes nothing.
    with pytest.raises(NotFoundError, match="'absent'"):
        kv.delete_secrets(["present", "absent"])
    assert kv.list_secrets() == [{"name": "present"}]


@pytest.mark.parametrize("name", ["", "under_score", "dot.ted", "sp ace", "x" * 128, "é"])
def test_bad_names_raise_naming_the_argument(ws, name):
    kv = ws.get_default_keyvault()
    with pytest.raises(ValidationError, match=r"^name=.* is not a valid secret name: use 1-127"):
        kv.set_secret(name, "v")
    with pytest.raises(ValidationError, match="^name="):
        kv.get_secret(name)
    with pytest.raises(ValidationError, match="^name="):
        kv.delete_secret(name)
    with pytest.raises(ValidationError, match="^a key of secrets_batch"):
        kv.set_secrets({"fine": "v", name: "v"})
    with pytest.raises(ValidationError, match="^an item of secrets"):
        kv.get_secrets(["fine", name])
    assert kv.list_secrets() == []  # nothing was half-written


def test_bad_arguments_raise_clear_errors(ws):
    kv = ws.get_default_keyvault()
    with pytest.raises(ValidationError, match="^name must be a str"):
        kv.set_secret(7, "v")
    with pytest.raises(ValidationError, match="^value must be a str .*got int"):
        kv.set_secret("n", 123456789)
    with pytest.raises(ValidationError, match=r"^secrets_batch\['n'\] must be a str"):
        kv.set_secrets({"n": b"bytes"})
    with pytest.raises(UserErrorException, match="secrets_batch must be a dict"):
        kv.set_secrets(["n"])
    with pytest.raises(UserErrorException, match="exactly one of secrets_batch or secrets"):
        kv.set_secrets()
    with pytest.raises(UserErrorException, match="secrets must be a list of secret names"):
        kv.get_secrets("n")
    with pytest.raises(ValidationError, match="at most 25600 bytes"):
        kv.set_secret("big", "x" * 25601)
    kv.set_secret("big", "x" * 25600)
    assert len(kv.get_secret("big")) == 25600
    with pytest.raises(UserErrorException, match="workspace must be a Workspace"):
        Keyvault("not a workspace")


def test_secrets_belong_to_their_workspace(ws, backend, tmp_path):
    other = _sibling(ws, backend, tmp_path)
    ws.get_default_keyvault().set_secret("shared-name", "mine")
    other.get_default_keyvault().set_secret("shared-name", "theirs")
    assert ws.get_default_keyvault().get_secret("shared-name") == "mine"
    assert other.get_default_keyvault().get_secret("shared-name") == "theirs"
    other.get_default_keyvault().delete_secret("shared-name")
    assert ws.get_default_keyvault().list_secrets() == [{"name": "shared-name"}]


# -- encryption at rest ---------------------------------------------------------------------------


def test_values_are_not_stored_in_plain_text(ws, backend, request):
    value = _value()
    ws.get_default_keyvault().set_secret("db-password", value)
    (stored,) = _stored(ws, backend, request)
    assert value not in stored
    assert stored.startswith("v1:")
    if backend == "sqlite":
        # Not in any byte of the database, its write-ahead log included.
        folder = ws._location.folder
        for file in folder.glob("plinth.db*"):
            assert value.encode() not in file.read_bytes(), file.name


def test_the_key_file_is_outside_the_database(ws, backend, request, monkeypatch):
    value = _value()
    ws.get_default_keyvault().set_secret("db-password", value)
    if backend == "remote":
        # The key stays on the server: this client never reads or creates one.
        from plinth._secrets import box

        def no_key(path):
            raise AssertionError(f"a client of a server opened the key file {path}")

        monkeypatch.setattr(box, "_read_or_create", no_key)
        kv = ws.get_default_keyvault()
        kv.set_secret("another", "value")
        assert kv.get_secret("db-password") == value
        assert not hasattr(ws._store, "secret_box")
        assert list(Path(os.environ["PLINTH_HOME"]).rglob("*.key")) == []
        # The server's key is in the server's home, not in its database.
        key_file = Path(request.getfixturevalue("plinth_server").env["PLINTH_HOME"]) / \
            "secrets.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert not any(key in stored for stored in _stored(ws, backend, request))
        return
    if backend == "sqlite":
        key_file = ws._location.folder / "secrets.key"
        database = [f.read_bytes() for f in ws._location.folder.glob("plinth.db*")]
    else:
        key_file = Path(os.environ["PLINTH_HOME"]) / "secrets.key"
        database = [s.encode() for s in _stored(ws, backend, request)]
    assert ws._store.secret_box.key_file == key_file
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip().encode()
    assert len(key) == 44
    assert not any(key in blob for blob in database)


def test_a_database_without_its_key_cannot_be_read(ws, backend, tmp_path, monkeypatch):
    if backend == "remote":
        pytest.skip("the server's key is the server's own")
    from plinth._store import SqlStore

    value = _value()
    ws.get_default_keyvault().set_secret("db-password", value)
    monkeypatch.setenv("PLINTH_SECRET_KEY_FILE", str(tmp_path / "another.key"))
    store = SqlStore(ws._location.metadata_uri)
    try:
        assert store.secret_box.key_file == tmp_path / "another.key"
        assert [s.name for s in store.list_secrets(ws._id)] == ["db-password"]  # names only
        with pytest.raises(StoreError, match="was encrypted with key .*PLINTH_SECRET_KEY_FILE") \
                as error:
            store.get_secrets(ws._id, ["db-password"])
        assert value not in str(error.value)
        # The new key file was created on first use, readable by its owner only.
        assert stat.S_IMODE((tmp_path / "another.key").stat().st_mode) == 0o600
    finally:
        store.close()


def test_a_copied_ciphertext_does_not_decrypt_as_another_secret(ws, backend):
    if backend == "remote":
        pytest.skip("needs the database itself")
    store = ws._store
    store.set_secrets(ws._id, {"a": "value-a", "b": "value-b"})
    box = store.secret_box
    sealed_a = box.encrypt("value-a", workspace_id=ws._id, name="a")
    with pytest.raises(StoreError, match="copied from another secret") as error:
        box.decrypt(sealed_a, workspace_id=ws._id, name="b")
    assert "value-a" not in str(error.value)


def test_values_never_appear_in_reprs_listings_or_errors(ws, backend, request):
    value = _value()
    kv = ws.get_default_keyvault()
    kv.set_secret("db-password", value)
    seen = [repr(kv), str(kv), repr(ws), str(kv.list_secrets()), str(ws.get_details()),
            repr(ws._store.list_secrets(ws._id)), repr(getattr(ws._store, "secret_box", None))]
    for call in (lambda: kv.get_secret("other"), lambda: kv.set_secret("db-password", 42),
                 lambda: kv.delete_secrets(["db-password", "nope"]),
                 lambda: kv.set_secret("bad_name", value)):
        with pytest.raises(Exception) as error:  # noqa: B017 - any error; its text is checked
            call()
        seen.append(str(error.value))
    from plinth._api import SetSecretsRequest

    seen.append(repr(SetSecretsRequest(secrets={"db-password": value})))
    if backend == "remote":
        import httpx

        base = f"{ws._location.server_url}/api/v1/workspaces/{ws.name}"
        headers = request.getfixturevalue("plinth_server").headers
        listing = httpx.get(f"{base}/secrets", headers=headers)
        assert listing.status_code == 200
        assert [s["name"] for s in listing.json()["items"]] == ["db-password"]
        seen += [listing.text, httpx.get(base, headers=headers).text]
        got = httpx.post(f"{base}/secrets-get", json={"names": ["db-password"]},
                         headers=headers)
        assert got.json() == {"db-password": value}
        assert got.headers["cache-control"] == "no-store"
    for text in seen:
        assert value not in text
    # The one place a value travels is a call that asks for it.
    assert kv.get_secret("db-password") == value


def test_deleting_the_workspace_deletes_its_secrets(ws, backend, tmp_path, request):
    kv = ws.get_default_keyvault()
    kv.set_secrets({"a": _value(), "b": _value()})
    old_id = ws._id
    ws.delete()
    if backend == "sqlite":
        assert not ws._location.folder.exists()  # the key file went with the folder
        return
    assert _stored(ws, backend, request) == []
    again = _sibling(ws, backend, tmp_path, name=ws.name)
    assert again._id != old_id
    assert again.get_default_keyvault().list_secrets() == []


# -- runs ----------------------------------------------------------------------------------------


def test_interactive_run_reads_secrets(ws):
    value = _value()
    ws.get_default_keyvault().set_secret("token", value)
    run = Experiment(ws, "secrets").start_logging()
    assert run.get_secret("token") == value
    assert run.get_secrets(["token", "nope"]) == {"token": value, "nope": None}
    with pytest.raises(NotFoundError, match="'nope'"):
        run.get_secret("nope")
    run.complete()


def test_offline_run_reads_environment_variables(monkeypatch):
    from plinth.core._offline import OfflineRun

    run = OfflineRun()
    monkeypatch.setenv("db-password", "from-env")
    monkeypatch.delenv("absent", raising=False)
    assert run.get_secret("db-password") == "from-env"
    assert run.get_secrets(["db-password", "absent"]) == {"db-password": "from-env",
                                                          "absent": None}
    with pytest.raises(UserErrorException, match="not a submitted run.*'absent' is not set"):
        run.get_secret("absent")
    with pytest.raises(ValidationError, match="^name="):
        run.get_secret("bad_name")


@pytest.mark.slow
def test_submitted_script_reads_a_secret(ws, script_dir):
    value = _value()
    ws.get_default_keyvault().set_secrets({"db-password": value, "other": "x"})
    digest = hashlib.sha256(value.encode()).hexdigest()
    write_script(script_dir, "train.py", f"""
        import hashlib
        from plinth.core import Run
        run = Run.get_context()
        secret = run.get_secret("db-password")
        run.log("matches", hashlib.sha256(secret.encode()).hexdigest() == {digest!r})
        both = run.get_secrets(["db-password", "other", "missing"])
        run.log("batch", both["db-password"] == secret and both["other"] == "x"
                and both["missing"] is None)
        try:
            run.get_secret("missing")
        except Exception as exc:
            print("missing:", type(exc).__name__)
        print("done")
    """)
    run = Experiment(ws, "secret-run").submit(ScriptRunConfig(str(script_dir), "train.py"))
    run.wait_for_completion()
    assert run.get_metrics() == {"matches": True, "batch": True}
    log = run.get_details_with_logs()["logFiles"]["logs/driver.log"]
    assert "missing: NotFoundError" in log and "done" in log
    assert value not in log
