"""The README's quickstart runs end to end on the embedded default."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_quickstart_trains_registers_and_lists(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), str(tmp_path / "ws")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Training a logistic regression model with regularization rate of 0.1" in out
    assert "Status: Completed" in out
    auc = float(out.split("\nAUC: ")[1].split()[0])
    assert 0.8 < auc < 1.0
    assert "outputs/model.pkl" in out and "images/ROC.png" in out
    assert "diabetes_model version: 1" in out
    assert "15000 rows" in out  # both CSVs, read from the registered dataset in the run
    assert "trained on: diabetes dataset version 1" in out
    assert (tmp_path / "ws" / "config.json").is_file()
    first, second = out.split("Pipeline run (first submission): ")[1].split(
        "Pipeline run (second submission): ")
    assert first.startswith("Completed") and "reused" not in first
    assert second.startswith("Completed") and second.count(", reused run ") == 2


def test_training_script_runs_with_plain_python(tmp_path):
    import shutil

    shutil.copy(ROOT / "examples" / "diabetes-training" / "train_diabetes.py", tmp_path)
    shutil.copy(ROOT / "examples" / "data" / "diabetes.csv", tmp_path)
    result = subprocess.run([sys.executable, "train_diabetes.py", "--reg_rate", "0.5"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Attempted to log scalar metric AUC" in result.stdout
    assert (tmp_path / "outputs" / "model.pkl").is_file()
