"""Pipelines: steps that pass data to each other, run, reused, published and scheduled
(azureml's ``azureml.pipeline``)."""
