"""Environments: definitions, registration and versions, and runs that use them."""

from __future__ import annotations

import shutil
import sys

import pytest
from tests.conftest import write_script

from plinth.core import Environment, Experiment, ScriptRunConfig
from plinth.core.conda_dependencies import CondaDependencies
from plinth.exceptions import NotFoundError, UserErrorException

COURSE_CONDA = """\
name: py_env
dependencies:
  - python=3.6.2
  - scikit-learn
  - pandas
  - pip
  - pip:
    - azureml-defaults
"""


@pytest.fixture
def conda_file(tmp_path):
    path = tmp_path / "conda.yml"
    path.write_text(COURSE_CONDA)
    return path


def test_conda_dependencies_round_trip(tmp_path):
    deps = CondaDependencies.create(conda_packages=["scikit-learn", "pandas"],
                                    pip_packages=["azureml-defaults"], python_version="3.11")
    deps.add_conda_package("numpy")
    deps.add_pip_package("lightgbm>=4")
    text = deps.serialize_to_string()
    assert "python=3.11" in text and "scikit-learn" in text and "lightgbm>=4" in text
    saved = tmp_path / "env.yml"
    saved.write_text(text)
    again = CondaDependencies(saved)
    assert list(again.conda_packages) == ["scikit-learn", "pandas", "numpy"]
    assert list(again.pip_packages) == ["azureml-defaults", "lightgbm>=4"]
    assert again.get_python_version() == "3.11"


def test_register_versions_count_up_only_when_the_definition_changes(ws, conda_file):
    env = Environment.from_conda_specification(name="training_environment",
                                               file_path=str(conda_file))
    assert env.python.conda_dependencies.get_python_version() == "3.6.2"
    assert env.python.user_managed_dependencies is False
    first = env.register(workspace=ws)
    assert first.version == "1"
    assert env.register(workspace=ws).version == "1"

    env.python.conda_dependencies.add_pip_package("lightgbm")
    env.environment_variables["MODE"] = "train"
    assert env.register(ws).version == "2"

    latest = Environment.get(workspace=ws, name="training_environment")
    assert latest.version == "2"
    assert "lightgbm" in list(latest.python.conda_dependencies.pip_packages)
    assert latest.environment_variables == {"MODE": "train"}
    old = Environment.get(ws, "training_environment", version=1)
    assert "lightgbm" not in list(old.python.conda_dependencies.pip_packages)

    listed = Environment.list(workspace=ws)
    assert listed["training_environment"].version == "2"
    assert {"Plinth-minimal", "Plinth-sklearn", "Plinth-lightgbm"} <= set(listed)
    with pytest.raises(NotFoundError, match="env.register"):
        Environment.get(ws, "nope")


def test_docker_settings_are_recorded_and_said_to_be_unused():
    env = Environment("dockerish")
    with pytest.warns(UserWarning, match="unused"):
        env.docker.base_image = "mcr.microsoft.com/azureml/base:latest"
    assert env._to_record()["docker"]["base_image"].startswith("mcr.")


def test_existing_conda_environment_needs_conda(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no conda on the PATH
    with pytest.raises(UserErrorException, match="from_existing_virtualenv"):
        Environment.from_existing_conda_environment("training_environment", "py_env")
    with pytest.raises(UserErrorException, match="not a virtualenv"):
        Environment.from_existing_virtualenv("mine", tmp_path)


ENV_SCRIPT = """
    import sys
    from plinth.core import Run

    run = Run.get_context()
    run.tag("python", sys.executable)
    try:
        import tabulate
        run.log("tabulate", tabulate.__version__)
    except ImportError:
        run.log("tabulate", "missing")
"""


@pytest.mark.slow
def test_the_course_environment_runs_where_plinth_already_has_its_packages(ws, conda_file,
                                                                          script_dir):
    from plinth.train.estimator import Estimator

    Environment.from_conda_specification("training_environment", str(conda_file)).register(ws)
    training_env = Environment.get(workspace=ws, name="training_environment")
    write_script(script_dir, "env_check.py", ENV_SCRIPT)
    estimator = Estimator(source_directory=str(script_dir), entry_script="env_check.py",
                          compute_target="local", environment_definition=training_env)
    run = Experiment(ws, "course-env").submit(estimator)
    run.wait_for_completion(raise_on_error=True)
    assert run.get_tags()["python"] == sys.executable
    log = run.get_details_with_logs()
    assert "logs/environment.log" in log["logFiles"]


@pytest.mark.slow
def test_a_run_builds_its_environment_once_and_reuses_it(tmp_path, script_dir, monkeypatch):
    from plinth.core import Workspace

    monkeypatch.setenv("PLINTH_ENV_CACHE", str(tmp_path / "envs"))
    ws = Workspace.create("env-build", path=tmp_path / "ws")
    env = Environment("with-tabulate")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["tabulate"])
    write_script(script_dir, "env_check.py", ENV_SCRIPT)
    runs = []
    for _ in range(2):
        config = ScriptRunConfig(str(script_dir), "env_check.py", environment=env)
        run = Experiment(ws, "env-build").submit(config)
        run.wait_for_completion(raise_on_error=True)
        runs.append(run)
    for run in runs:
        assert run.get_metrics()["tabulate"] != "missing"
        assert run.get_tags()["python"] != sys.executable
    first, second = (r.get_details_with_logs()["logFiles"]["logs/environment.log"] for r in runs)
    assert "reusing" not in first.lower() and "reusing" in second.lower()


@pytest.mark.slow
def test_a_package_that_cannot_be_installed_fails_the_run_clearly(tmp_path, script_dir,
                                                                   monkeypatch):
    from plinth.core import Workspace

    monkeypatch.setenv("PLINTH_ENV_CACHE", str(tmp_path / "envs"))
    ws = Workspace.create("env-fail", path=tmp_path / "ws")
    env = Environment("impossible")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["cudatoolkit"])
    write_script(script_dir, "env_check.py", ENV_SCRIPT)
    run = Experiment(ws, "env-fail").submit(
        ScriptRunConfig(str(script_dir), "env_check.py", environment=env))
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    error = run.get_details()["error"]["error"]
    assert error["code"] == "EnvironmentBuildFailed"
    assert "cudatoolkit" in error["message"]


@pytest.mark.slow
def test_an_existing_virtualenv_is_used_as_it_is(tmp_path, script_dir):
    from plinth.core import Workspace

    venv = tmp_path / "venv"
    # A virtualenv of the user's that can import Plinth (through a .pth file).
    import subprocess

    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    import sysconfig

    with open(f"{site}/plinth-runtime.pth", "w") as f:
        # addsitedir, so the editable install's own .pth file is read too.
        f.write(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    ws = Workspace.create("env-user", path=tmp_path / "ws")
    env = Environment.from_existing_virtualenv("mine", venv)
    assert env.python.user_managed_dependencies is True
    write_script(script_dir, "env_check.py", ENV_SCRIPT)
    run = Experiment(ws, "env-user").submit(
        ScriptRunConfig(str(script_dir), "env_check.py", environment=env))
    run.wait_for_completion(raise_on_error=True)
    assert run.get_tags()["python"].startswith(str(venv))
    shutil.rmtree(venv)
