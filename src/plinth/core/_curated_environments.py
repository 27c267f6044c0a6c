"""Environments every workspace offers without registering them (azureml's curated ones)."""

from __future__ import annotations

from typing import Any

__all__ = ["CURATED"]


def _curated(name: str, *packages: str) -> dict[str, Any]:
    return {
        "name": name,
        "python": {"version": None, "conda_packages": list(packages), "pip_packages": [],
                   "channels": [], "user_managed": False, "interpreter_path": None},
        "environment_variables": {},
        "docker": {"enabled": False, "base_image": None},
    }


CURATED: dict[str, dict[str, Any]] = {
    "Plinth-minimal": _curated("Plinth-minimal"),
    "Plinth-sklearn": _curated("Plinth-sklearn", "scikit-learn", "pandas", "numpy", "joblib"),
    "Plinth-lightgbm": _curated("Plinth-lightgbm", "lightgbm", "scikit-learn", "pandas",
                                "numpy"),
}
