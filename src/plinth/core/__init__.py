"""The core SDK: workspaces, experiments, runs, run configurations, environments, models,
datastores and datasets."""

from plinth._version import __version__ as VERSION
from plinth.core.dataset import Dataset
from plinth.core.datastore import Datastore
from plinth.core.environment import Environment
from plinth.core.experiment import Experiment
from plinth.core.keyvault import Keyvault
from plinth.core.model import Model
from plinth.core.run import Run
from plinth.core.runconfig import RunConfiguration, ScriptRunConfig
from plinth.core.workspace import Workspace

__all__ = [
    "VERSION",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Keyvault",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "Workspace",
]
