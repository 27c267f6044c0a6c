"""The core SDK: workspaces, experiments, runs, run configurations and models."""

from plinth._version import __version__ as VERSION
from plinth.core.experiment import Experiment
from plinth.core.keyvault import Keyvault
from plinth.core.model import Model
from plinth.core.run import Run
from plinth.core.runconfig import RunConfiguration, ScriptRunConfig
from plinth.core.workspace import Workspace

__all__ = [
    "VERSION",
    "Experiment",
    "Keyvault",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "Workspace",
]
