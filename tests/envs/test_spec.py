"""Environment definitions normalised to build specs, the files they come from, and the
interpreter chosen for them."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from plinth._envs import (
    choose_python,
    digest,
    from_conda_yaml,
    from_pip_requirements,
    normalise,
    satisfied_here,
)
from plinth._envs.interpreters import _find, running_version
from plinth.exceptions import UserErrorException

RUNNING = running_version()


def definition(conda=(), pip=(), version=None):
    return {"name": "env", "python": {"version": version, "conda_packages": list(conda),
                                      "pip_packages": list(pip), "user_managed": False},
            "environment_variables": {}, "docker": {}}


@pytest.mark.parametrize(("conda", "expected"), [
    ("numpy=1.19", "numpy==1.19.*"),
    ("numpy==1.19.2", "numpy==1.19.2"),
    ("numpy 1.19.2", "numpy==1.19.2"),
    ("numpy 1.19.*", "numpy==1.19.*"),
    ("numpy>=1.2.*", "numpy>=1.2"),
    ("scikit-learn", "scikit-learn"),
    ("Scikit_Learn", "scikit-learn"),
    ("pandas=1.0=py38_0", "pandas==1.0.*"),
    ("conda-forge::scipy>=1.5,<2", "scipy<2,>=1.5"),
    ("py-xgboost", "xgboost"),
    ("py-xgboost=1.3", "xgboost==1.3.*"),
    ("pytorch", "torch"),
    ("pytorch=1.8", "torch==1.8.*"),
    ("matplotlib", "matplotlib"),
    ("matplotlib-base", "matplotlib"),
    ("pytables", "tables"),
    ("lightgbm", "lightgbm"),
    ("pip", None),
    ("pip=20.1.1", None),
    ("python=3.11", None),
    ("setuptools", None),
    ("wheel", None),
    ("mkl", None),
    ("libgcc-ng", None),
    ("azureml-sdk", None),
])
def test_conda_packages_become_pip_requirements(conda, expected):
    spec = normalise(definition(conda=[conda]))
    assert spec["requirements"] == ([expected] if expected else [])


@pytest.mark.parametrize(("conda", "says"), [
    ("cudatoolkit=10.1", "CUDA"),
    ("cudnn", "cuDNN"),
    ("cuda-nvcc", "native"),
    ("r-base", "R is not"),
    ("_not_a_pypi_name", "PyPI name"),
    ("numpy=1.19|1.20", "'|'"),
])
def test_conda_packages_without_a_pip_equivalent_are_refused(conda, says):
    with pytest.raises(UserErrorException) as caught:
        normalise(definition(conda=["pandas", conda]))
    message = str(caught.value)
    assert repr(conda) in message and says in message and "pip_packages" in message


def test_azureml_packages_are_dropped():
    spec = normalise(definition(
        conda=["azureml-sdk"],
        pip=["azureml-defaults", "azureml-core==1.20.0", "azureml-dataprep[pandas,fuse]>=1.1",
             "azureml-train-automl-client", "azureml-mlflow", "AzureML_Widgets",
             "inference-schema", "lightgbm>=4"]))
    assert spec["requirements"] == ["lightgbm>=4"]


def test_pip_requirements_are_canonical_sorted_and_unique():
    spec = normalise(definition(
        conda=["pandas", "Scikit-Learn"],
        pip=["LightGBM>=4", "lightgbm >= 4", "Pandas", "requests[socks,security]<3,>=2",
             "foo @ https://example.org/foo-1.0-py3-none-any.whl"]))
    assert spec == {"python": RUNNING, "requirements": [
        "foo @ https://example.org/foo-1.0-py3-none-any.whl", "lightgbm>=4", "pandas",
        "requests[security,socks]<3,>=2", "scikit-learn"]}


def test_an_invalid_pip_requirement_names_it():
    with pytest.raises(UserErrorException, match="'git\\+https://x/y.git'"):
        normalise(definition(pip=["git+https://x/y.git"]))


def test_a_malformed_definition_names_the_field():
    with pytest.raises(UserErrorException, match="python.pip_packages"):
        normalise({"python": {"pip_packages": "pandas"}})


def test_digest_is_stable_and_independent_of_order():
    one = normalise(definition(conda=["pandas", "scikit-learn"], pip=["lightgbm>=4"]))
    two = normalise(definition(conda=["scikit-learn"], pip=["LightGBM>=4", "pandas", "pandas"]))
    assert one == two
    assert digest(one) == digest(two) == digest(dict(reversed(list(one.items()))))
    assert len(digest(one)) == 64 and int(digest(one), 16)
    assert digest(one) != digest(normalise(definition(pip=["lightgbm>=4"])))


def test_conda_yaml_gives_the_python_version_and_both_package_lists():
    parsed = from_conda_yaml(
        "name: project_environment\n"
        "channels: [conda-forge, defaults]\n"
        "dependencies: [python=3.6.2, scikit-learn, pandas, pip, {pip: [azureml-defaults]}]\n")
    assert parsed == {"name": "project_environment", "version": "3.6.2",
                      "conda_packages": ["scikit-learn", "pandas", "pip"],
                      "pip_packages": ["azureml-defaults"]}
    spec = normalise({"python": parsed})
    assert spec == {"python": RUNNING, "requirements": ["pandas", "scikit-learn"]}


def test_conda_yaml_block_style():
    parsed = from_conda_yaml("dependencies:\n  - python=3.11\n  - numpy=1.26\n  - pip:\n"
                             "    - tabulate  # for tables\n    - lightgbm>=4\n")
    assert parsed["version"] == "3.11"
    assert parsed["conda_packages"] == ["numpy=1.26"]
    assert parsed["pip_packages"] == ["tabulate", "lightgbm>=4"]


@pytest.mark.parametrize(("text", "says"), [
    ("dependencies: [pandas", "not valid YAML"),
    ("- pandas\n", "'dependencies:'"),
    ("dependencies: [{conda: [x]}]", "neither a package"),
    ("dependencies: [{pip: [-r requirements.txt]}]", "pip option"),
])
def test_bad_conda_yaml_is_refused(text, says):
    with pytest.raises(UserErrorException, match=says):
        from_conda_yaml(text)


def test_conda_python_package_is_the_requested_version():
    chosen = normalise(definition(conda=["python=3.6.2", "pandas"]))
    assert chosen["python"] == RUNNING  # 3.6 is too old for Plinth's runtime


def test_pip_requirements_text():
    text = ("# training\n\npandas>=1.0  # tables\nscikit-learn\\\n==1.4.2\n"
            "lightgbm ; python_version >= '3.8'\n")
    assert from_pip_requirements(text) == [
        "pandas>=1.0", "scikit-learn==1.4.2", "lightgbm ; python_version >= '3.8'"]


@pytest.mark.parametrize("line", ["-r other.txt", "-e .", "--index-url https://x"])
def test_pip_options_are_refused(line):
    with pytest.raises(UserErrorException, match="Line 2 .*pip option"):
        from_pip_requirements(f"pandas\n{line}\n")


def test_an_invalid_requirement_line_is_named():
    with pytest.raises(UserErrorException, match="Line 1 .*'pandas=>1'"):
        from_pip_requirements("pandas=>1\n")


def test_no_requested_python_is_the_running_interpreter():
    assert choose_python(None) == (RUNNING, Path(sys.executable), None)


def test_an_installed_python_is_chosen_without_a_warning():
    if RUNNING != "3.11" and not _find((3, 11)):
        pytest.skip("no Python 3.11 on this machine")
    version, exe, warning = choose_python("3.11")
    assert (version, warning) == ("3.11", None)
    assert _reports(exe) == "3.11"


def test_a_python_older_than_plinths_minimum_gives_the_running_one_and_a_warning():
    version, exe, warning = choose_python("3.6")
    assert (version, str(exe)) == (RUNNING, sys.executable)
    assert "3.6 was requested" in warning and "3.11 or newer" in warning


def test_a_python_not_installed_gives_the_closest_and_a_warning():
    version, exe, warning = choose_python("9.9")
    assert tuple(map(int, version.split("."))) >= (3, 11)
    assert _reports(exe) == version
    assert "9.9 was requested" in warning and "not installed" in warning and version in warning


def test_a_python_version_that_is_no_version_is_refused():
    with pytest.raises(UserErrorException, match="'latest'"):
        choose_python("latest")


def test_satisfied_here_when_the_running_environment_has_every_package():
    installed("scikit-learn", "pandas")
    assert satisfied_here({"python": RUNNING, "requirements": ["pandas", "scikit-learn"]})
    assert satisfied_here({"python": RUNNING, "requirements": [
        "pandas>=1", "plinth-missing-package ; python_version < '3'"]})


@pytest.mark.parametrize("requirements", [
    ["pandas", "plinth-missing-package"],
    ["pandas<0.1"],
    ["pandas @ https://example.org/pandas-1.0-py3-none-any.whl"],
])
def test_not_satisfied_here_when_a_package_is_missing_or_another_version(requirements):
    installed("pandas")
    assert not satisfied_here({"python": RUNNING, "requirements": requirements})


def test_not_satisfied_here_for_another_python():
    assert not satisfied_here({"python": "3.99", "requirements": []})


def installed(*names):
    for name in names:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{name} is not installed here")


def _reports(exe) -> str:
    out = subprocess.run([str(exe), "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()
