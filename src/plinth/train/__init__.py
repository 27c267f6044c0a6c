"""Training helpers with azureml's shape: estimators (and, later, tuning and AutoML)."""
