"""azureml's home of ``ComputeTargetException``."""

from plinth.exceptions import ComputeTargetException

__all__ = ["ComputeTargetException"]
