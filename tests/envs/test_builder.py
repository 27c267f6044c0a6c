"""Environments built with uv into the cache, reused, shared between processes, and the
shortcuts that build nothing. Builds use real uv and PyPI; they are marked slow."""

from __future__ import annotations

import fcntl
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plinth._envs import ENVIRONMENT_LOG, digest, materialise, normalise
from plinth._envs.interpreters import MINIMUM, _find, running_version
from plinth.exceptions import UserErrorException

# tabulate is small, pure Python, and not one of Plinth's dev dependencies.
PACKAGE = "tabulate"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "envs"
    monkeypatch.setenv("PLINTH_ENV_CACHE", str(folder))
    return folder


@pytest.fixture
def needs_build():
    """The builds need a package Plinth's own environment lacks, or nothing would be built."""
    try:
        importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return
    pytest.skip(f"{PACKAGE} is installed here, so its environment would not be built")


def definition(*pip, version=None, **python):
    return {"name": "env", "python": {"version": version, "pip_packages": list(pip), **python}}


def build(definition) -> tuple[Path, list[str], float]:
    lines: list[str] = []
    started = time.monotonic()
    exe = materialise(definition, lines.append)
    return exe, lines, time.monotonic() - started


def run_in(exe: Path, code: str) -> str:
    return subprocess.run([str(exe), "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip()


def folder_of(definition) -> Path:
    return Path(os.environ["PLINTH_ENV_CACHE"]) / digest(normalise(definition))[:20]


def test_log_name_for_callers():
    assert ENVIRONMENT_LOG == "logs/environment.log"


def test_packages_plinth_already_has_build_nothing(cache):
    if not all(importlib.util.find_spec(name) for name in ("pandas", "sklearn")):
        pytest.skip("pandas and scikit-learn are not installed here")
    exe, lines, _ = build(definition("pandas", conda_packages=["scikit-learn", "pip"]))
    assert exe == Path(sys.executable)
    assert "already has every package" in lines[-1]
    assert not cache.exists()


def test_a_user_managed_environment_uses_its_interpreter(cache):
    exe, lines, _ = build(definition(PACKAGE, user_managed=True,
                                     interpreter_path=sys.executable))
    assert exe == Path(sys.executable) and "user-managed" in lines[0]
    assert not cache.exists()


def test_a_user_managed_environment_with_the_default_interpreter_uses_plinths(cache):
    """azureml's default interpreter_path, 'python', is the machine's own Python."""
    exe, _, _ = build(definition(PACKAGE, user_managed=True, interpreter_path="python"))
    assert exe == Path(sys.executable)
    exe, _, _ = build(definition(PACKAGE, user_managed=True, interpreter_path="sh"))
    assert exe == Path(shutil.which("sh"))


def test_a_user_managed_interpreter_must_exist(tmp_path):
    missing = tmp_path / "bin" / "python"
    with pytest.raises(UserErrorException, match="interpreter_path .*bin/python"):
        materialise(definition(user_managed=True, interpreter_path=str(missing)))


@pytest.mark.slow
@pytest.mark.usefixtures("needs_build")
def test_build_then_reuse(cache):
    six = "1.15.0" if importlib.metadata.version("six") != "1.15.0" else "1.16.0"
    env = definition(PACKAGE, f"six=={six}", conda_packages=["python=3.6.2"])
    exe, lines, built_in = build(env)
    folder = folder_of(env)
    assert exe == folder / "bin" / "python"
    assert (folder / ".ready").is_file()
    assert json.loads((folder / "spec.json").read_text())["spec"] == normalise(env)
    assert any("3.6.2 was requested" in line for line in lines)
    assert any(line.startswith("$ ") and " venv " in line for line in lines)
    assert any(f"+ {PACKAGE}==" in line for line in lines)
    # Plinth and its dependencies resolve, but the environment's own pin wins.
    assert run_in(exe, f"import plinth, {PACKAGE}, six, sqlalchemy; print(six.__version__)") == six

    again, lines, reused_in = build(env)
    assert again == exe
    assert lines[-1] == f"reusing cached environment {folder}"
    assert not any(line.startswith("$ ") for line in lines)  # uv was not run
    print(f"\nfirst build {built_in:.2f}s, cached reuse {reused_in:.3f}s")
    assert reused_in < 1


@pytest.mark.slow
@pytest.mark.usefixtures("needs_build")
def test_an_interrupted_build_is_built_again():
    env = definition(PACKAGE)
    folder = folder_of(env)
    (folder / "bin").mkdir(parents=True)
    (folder / "half-written").write_text("")
    exe, lines, _ = build(env)
    assert f"removing an interrupted build at {folder}" in lines
    assert not (folder / "half-written").exists() and (folder / ".ready").is_file()
    run_in(exe, f"import {PACKAGE}")


@pytest.mark.slow
@pytest.mark.usefixtures("needs_build")
def test_a_failed_build_names_the_package_and_leaves_nothing():
    env = definition("plinth-test-no-such-package-7f3a")
    with pytest.raises(UserErrorException, match="plinth-test-no-such-package-7f3a") as caught:
        materialise(env)
    assert "uv pip" in str(caught.value)
    assert not folder_of(env).exists()


@pytest.mark.slow
@pytest.mark.usefixtures("needs_build")
def test_two_processes_build_one_environment(cache, tmp_path):
    env = definition(PACKAGE, "six")
    folder = folder_of(env)
    cache.mkdir(parents=True)
    script = ("import json, sys\nfrom plinth._envs import materialise\n"
              "print('RESULT', materialise(json.loads(sys.argv[1]), "
              "lambda line: print(line, flush=True)), flush=True)\n")
    logs = [tmp_path / f"process-{n}.log" for n in range(2)]
    with open(folder.with_name(folder.name + ".lock"), "a") as lock:
        # Holding the lock makes both processes wait, so they then race for it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        processes = [subprocess.Popen([sys.executable, "-c", script, json.dumps(env)],
                                      stdout=log.open("w"), stderr=subprocess.STDOUT)
                     for log in logs]
        deadline = time.monotonic() + 60
        while not all("waiting for another process" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.05)
    assert [p.wait(timeout=240) for p in processes] == [0, 0]
    outputs = [log.read_text() for log in logs]
    assert sum(" venv " in out for out in outputs) == 1
    assert sum(f"reusing cached environment {folder}" in out for out in outputs) == 1
    results = {line for out in outputs for line in out.splitlines() if line.startswith("RESULT")}
    assert results == {f"RESULT {folder / 'bin' / 'python'}"}
    assert sorted(p.name for p in cache.iterdir()) == sorted([folder.name, folder.name + ".lock"])


@pytest.mark.slow
@pytest.mark.usefixtures("needs_build")
def test_another_python_minor_gets_plinth_installed():
    mine = tuple(map(int, running_version().split(".")))
    other = next((v for v in [(3, 12), (3, 13), (3, 11), (3, 14)]
                  if v != mine and v >= MINIMUM and _find(v)), None)
    if other is None:
        pytest.skip("no other Python 3.11+ on this machine")
    version = f"{other[0]}.{other[1]}"
    exe, lines, _ = build(definition(PACKAGE, version=version))
    assert any("+ plinth==" in line for line in lines)
    out = run_in(exe, f"import sys, plinth, {PACKAGE}; print(*sys.version_info[:2], sep='.'); "
                      "print(plinth.__file__)")
    assert out.splitlines()[0] == version
    assert str(exe.parent.parent) in out.splitlines()[1]
