"""Content-addressed snapshots of a source directory.

Each file is stored once as a blob named by its sha256; a snapshot is a JSON manifest
(relative path -> digest, mode) itself stored by the hash of its content, so submitting the
same folder twice stores nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pathspec

from plinth._artifacts import ArtifactStore
from plinth._artifacts.store import blob_name
from plinth.exceptions import SnapshotException, UserErrorException

__all__ = ["take_snapshot", "restore_snapshot", "snapshot_files", "MAX_SNAPSHOT_BYTES"]

MAX_SNAPSHOT_BYTES = int(os.environ.get("PLINTH_SNAPSHOT_MAX_BYTES", 300 * 1024 * 1024))
MAX_SNAPSHOT_FILES = 2000
IGNORE_FILES = (".amlignore", ".gitignore")
ALWAYS_IGNORED = [".git/", "__pycache__/", "*.pyc", ".ipynb_checkpoints/", ".plinth/", ".venv/"]


def snapshot_files(source_directory: str | os.PathLike) -> list[Path]:
    """Files of ``source_directory`` that a snapshot includes, as relative paths.

    ``.amlignore`` wins over ``.gitignore`` (as in azureml); both use .gitignore syntax.
    """
    root = Path(source_directory)
    if not root.is_dir():
        raise UserErrorException(
            f"source_directory={str(source_directory)!r} is not a folder; pass the folder "
            "that holds your script."
        )
    patterns = list(ALWAYS_IGNORED)
    for ignore_file in IGNORE_FILES:
        if (root / ignore_file).is_file():
            patterns += (root / ignore_file).read_text().splitlines()
            break
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [
            d for d in dirnames if not spec.match_file(f"{(rel_dir / d).as_posix()}/")
        ]
        for name in filenames:
            rel = rel_dir / name
            if not spec.match_file(rel.as_posix()):
                files.append(rel)
    return sorted(files)


def take_snapshot(source_directory: str | os.PathLike, artifacts: ArtifactStore) -> str:
    """Store the folder's files; returns the snapshot id."""
    root = Path(source_directory)
    files = snapshot_files(root)
    total = sum((root / f).stat().st_size for f in files)
    if total > MAX_SNAPSHOT_BYTES or len(files) > MAX_SNAPSHOT_FILES:
        raise SnapshotException(
            f"source_directory {str(root)!r} holds {len(files)} files, {total / 2**20:.1f} MiB; "
            f"a snapshot takes at most {MAX_SNAPSHOT_FILES} files and "
            f"{MAX_SNAPSHOT_BYTES / 2**20:.0f} MiB. Keep data out of the source folder (or list "
            "it in .amlignore) and pass it to the run as a dataset or data reference."
        )
    manifest = {
        f.as_posix(): {
            "sha256": artifacts.put_blob(root / f),
            "mode": (root / f).stat().st_mode & 0o777,
        }
        for f in files
    }
    data = json.dumps(manifest, sort_keys=True).encode()
    snapshot_id = hashlib.sha256(data).hexdigest()
    name = f"snapshots/{snapshot_id}.json"
    if not artifacts.exists(name):
        artifacts.put_bytes(name, data)
    return snapshot_id


def restore_snapshot(snapshot_id: str, artifacts: ArtifactStore, target: str | os.PathLike) -> None:
    """Write the snapshot's files into ``target`` (a fresh copy each time)."""
    target = Path(target)
    manifest = json.loads(artifacts.read_bytes(f"snapshots/{snapshot_id}.json"))
    for rel, entry in manifest.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        local = artifacts.local_path(blob_name(entry["sha256"]))
        if local is not None:
            shutil.copyfile(local, path)
        else:
            artifacts.get_file(blob_name(entry["sha256"]), path)
        os.chmod(path, entry["mode"])
