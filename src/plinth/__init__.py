"""Plinth: the Azure Machine Learning SDK's workflow on your own machines."""

from plinth._version import __version__

__all__ = ["__version__"]
