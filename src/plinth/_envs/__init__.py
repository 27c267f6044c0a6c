"""Run environments: definitions normalised to build specs, and cached virtualenvs built with uv.

``materialise(definition, log)`` gives the Python executable a run uses: Plinth's own when it
already has every package, else a cached venv (built once per spec, shared by every run).
"""

from plinth._envs.builder import ENVIRONMENT_LOG, cache_root, materialise
from plinth._envs.interpreters import choose_python
from plinth._envs.spec import (
    digest,
    from_conda_yaml,
    from_pip_requirements,
    normalise,
    satisfied_here,
)

__all__ = [
    "materialise",
    "ENVIRONMENT_LOG",
    "cache_root",
    "choose_python",
    "normalise",
    "digest",
    "satisfied_here",
    "from_conda_yaml",
    "from_pip_requirements",
]
