"""azureml.automl.core's import paths."""
