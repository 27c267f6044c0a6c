"""Parallel uploads and downloads against real storage (a folder, moto S3, Azurite)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plinth._data.transfer import TransferResult, download, download_pairs, upload
from plinth.exceptions import DataAccessError, ValidationError

SMALL = 60
LARGE = 9 * 1024 * 1024 + 17  # past s3fs's and adlfs's single-request sizes


def make_tree(folder: Path) -> dict[str, bytes]:
    """Many small files in nested folders plus one larger one; returns name -> content."""
    tree = {f"small/{i % 4}/f{i:03d}.txt": f"file {i}\n".encode() * (i + 1) for i in range(SMALL)}
    tree["big/blob.bin"] = os.urandom(LARGE)
    for name, data in tree.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return tree


def pairs_of(folder: Path, tree: dict[str, bytes], prefix: str = "up") -> list:
    return [(folder / name, f"{prefix}/{name}") for name in tree]


def tree_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_upload_then_download(datastore, tmp_path):
    files = datastore
    src = tmp_path / "src"
    tree = make_tree(src)
    total = sum(len(d) for d in tree.values())

    result = upload(files, pairs_of(src, tree), show_progress=False)
    assert isinstance(result, TransferResult)
    assert set(result.copied) == {f"up/{n}" for n in tree} and result.skipped == ()
    assert result.total_bytes == total
    assert files.list("up") == sorted(f"up/{n}" for n in tree)
    assert files.stat("up/big/blob.bin")["size"] == LARGE

    # Existing targets are skipped unless overwrite.
    again = upload(files, pairs_of(src, tree), show_progress=False)
    assert again.copied == () and len(again.skipped) == len(tree) and again.total_bytes == 0
    (src / "small/0/f000.txt").write_bytes(b"changed")
    forced = upload(files, pairs_of(src, tree)[:1], overwrite=True, show_progress=False)
    assert forced.copied == ("up/small/0/f000.txt",) and forced.total_bytes == 7
    tree["small/0/f000.txt"] = b"changed"

    out = tmp_path / "out"
    got = download(files, files.list("up"), out, show_progress=False)
    assert len(got.copied) == len(tree) and got.total_bytes == total - len("file 0\n") + 7
    assert tree_under(out) == {f"up/{n}": d for n, d in tree.items()}

    skipped = download(files, files.list("up"), out, show_progress=False)
    assert skipped.copied == () and len(skipped.skipped) == len(tree)
    (out / "up/big/blob.bin").write_bytes(b"local edit")
    overwritten = download(files, ["up/big/blob.bin"], out, overwrite=True, show_progress=False)
    assert overwritten.copied == ("up/big/blob.bin",) and overwritten.total_bytes == LARGE
    assert (out / "up/big/blob.bin").read_bytes() == tree["big/blob.bin"]

    stripped = tmp_path / "stripped"
    result = download(
        files,
        files.list("up/small"),
        stripped,
        strip_prefix="up/small/",
        show_progress=False,
        max_workers=3,
    )
    assert tree_under(stripped) == {
        n[len("small/") :]: d for n, d in tree.items() if n.startswith("small/")
    }
    assert not [p for p in stripped.rglob("*") if ".partial" in p.name]


def test_a_failing_download_stops_and_names_the_file(datastore, tmp_path):
    files = datastore
    src = tmp_path / "src"
    tree = {f"d/f{i:02d}.txt": b"x" * 100 for i in range(12)}
    for name, data in tree.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    upload(files, [(src / n, n) for n in tree], show_progress=False)
    names = sorted(tree)
    names.insert(5, "d/missing.txt")
    out = tmp_path / "out"
    with pytest.raises(DataAccessError) as info:
        download(files, names, out, show_progress=False, max_workers=2)
    message = str(info.value)
    assert "'d/missing.txt'" in message and "run it again" in message
    assert isinstance(info.value.__cause__, Exception)
    assert not (out / "d" / "missing.txt").exists()
    left = [p.name for p in out.rglob("*") if p.is_file()]
    assert all(name.startswith("f") and name.endswith(".txt") for name in left)
    assert len(left) < len(tree)  # the rest was stopped


def test_a_failing_upload_stops_and_names_the_file(open_files, tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    files = open_files("Local", {"path": str(folder)})
    (folder / "taken").mkdir()  # a folder where a file is to go
    src = tmp_path / "src"
    src.mkdir()
    pairs = []
    for i in range(10):
        (src / f"f{i}").write_bytes(b"y" * 10)
        pairs.append((src / f"f{i}", "taken" if i == 3 else f"ok/f{i}"))
    with pytest.raises(DataAccessError, match="to 'taken' on"):
        upload(files, pairs, overwrite=True, show_progress=False, max_workers=1)
    assert sorted(p.name for p in (folder / "ok").iterdir()) == ["f0", "f1", "f2"]
    assert not [p for p in folder.rglob("*") if ".partial" in p.name]


def test_arguments_are_checked(open_files, tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    files = open_files("Local", {"path": str(folder)})
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "b").write_bytes(b"2")
    with pytest.raises(ValidationError, match="'x'"):
        upload(files, [(tmp_path / "a", "x"), (tmp_path / "b", "x")], show_progress=False)
    with pytest.raises(DataAccessError, match="nope"):
        upload(files, [(tmp_path / "nope", "x")], show_progress=False)
    with pytest.raises(DataAccessError, match="not a file"):
        upload(files, [(tmp_path, "x")], show_progress=False)
    with pytest.raises(ValidationError, match="max_workers"):
        upload(files, [(tmp_path / "a", "x")], show_progress=False, max_workers=0)
    with pytest.raises(ValidationError, match="strip_prefix"):
        download(files, ["a/b", "c/d"], tmp_path / "o", strip_prefix="a", show_progress=False)
    with pytest.raises(ValidationError, match="'..'"):
        upload(files, [(tmp_path / "a", "../x")], show_progress=False)
    assert upload(files, [], show_progress=False) == TransferResult()
    assert list(folder.iterdir()) == []


def test_download_pairs_from_several_datastores(open_files, tmp_path):
    stores = []
    for label in ("one", "two"):
        folder = tmp_path / label
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "x.csv").write_bytes(label.encode())
        stores.append(open_files("Local", {"path": str(folder)}))
    out = tmp_path / "out"
    result = download_pairs(
        [(stores[0], "data/x.csv", out / "1.csv"), (stores[1], "data/x.csv", out / "2.csv")],
        show_progress=False,
    )
    assert result.copied == ("data/x.csv", "data/x.csv") and result.total_bytes == 6
    assert (out / "1.csv").read_bytes() == b"one" and (out / "2.csv").read_bytes() == b"two"
    with pytest.raises(ValidationError, match="would be saved at"):
        download_pairs(
            [(stores[0], "data/x.csv", out / "same"), (stores[1], "data/x.csv", out / "same")],
            show_progress=False,
        )


def test_progress_bar_prints_when_asked(open_files, tmp_path, capsys):
    folder = tmp_path / "store"
    folder.mkdir()
    files = open_files("Local", {"path": str(folder)})
    src = tmp_path / "src"
    src.mkdir()
    pairs = []
    for i in range(5):
        (src / f"f{i}").write_bytes(b"z" * 1000)
        pairs.append((src / f"f{i}", f"p/f{i}"))
    upload(files, pairs, show_progress=False)
    assert capsys.readouterr().err == ""
    download(files, files.list("p"), tmp_path / "out", show_progress=True)
    err = capsys.readouterr().err
    assert "Downloading" in err and "5/5" in err and "5.0 kB" in err
