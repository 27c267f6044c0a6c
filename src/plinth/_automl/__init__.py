"""AutoML's engine: what ``plinth.train.automl`` runs.

- ``metrics``: the metrics of each task, named as azureml names them, and their goals.
- ``featurize``: ``DataTransformer``, featurization 'auto' (or a FeaturizationConfig's choices).
- ``guardrails``: the data checks reported as passed / done / alerted.
- ``models``: the catalogue of models: defaults, search spaces, builders, pipelines.
- ``ensemble``: ensemble weights from out-of-fold predictions; voting and stack ensembles.
- ``timeseries``: frequencies, the forecasting spec, series checks, rolling-origin splits.
- ``forecasting``: lag and rolling-window features, naive baselines, the forecasting pipeline.
- ``search``: which model and hyperparameters to try next (Optuna).
- ``trial``: the child runs' entry point (setup, an iteration, an ensemble, explanations).
- ``driver``: the process that runs an AutoML parent run.
"""
