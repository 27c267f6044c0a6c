"""azureml.automl's import paths: the AutoML classes live in ``plinth.train.automl``."""
