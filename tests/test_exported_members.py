"""The public names stay importable under their azureml-shaped paths."""

import importlib

import pytest

PUBLIC = {
    "plinth.core": ["Workspace", "Experiment", "Run", "ScriptRunConfig", "RunConfiguration",
                    "Model", "VERSION"],
    "plinth.core.authentication": ["InteractiveLoginAuthentication",
                                   "ServicePrincipalAuthentication", "TokenAuthentication"],
    "plinth.core.model": ["Model", "InferenceConfig"],
    "plinth.core.run": ["Run"],
    "plinth.core.runconfig": ["RunConfiguration", "ScriptRunConfig"],
    "plinth.train.estimator": ["Estimator"],
    "plinth.train.sklearn": ["SKLearn"],
    "plinth.pipeline.core": ["Pipeline", "PipelineData", "PipelineParameter", "PipelineRun",
                             "StepRun", "PublishedPipeline", "PipelineEndpoint", "Schedule",
                             "ScheduleRecurrence", "TimeZone", "PortDataReference"],
    "plinth.pipeline.core.graph": ["PipelineParameter"],
    "plinth.pipeline.steps": ["PythonScriptStep", "EstimatorStep", "CommandStep",
                              "DataTransferStep", "ParallelRunConfig", "ParallelRunStep"],
    "plinth.core.webservice": ["Webservice", "LocalWebservice", "AciWebservice",
                               "AksWebservice"],
    "plinth.train.hyperdrive": ["HyperDriveConfig", "HyperDriveRun", "PrimaryMetricGoal",
                                "GridParameterSampling", "RandomParameterSampling",
                                "BayesianParameterSampling", "BanditPolicy",
                                "MedianStoppingPolicy", "TruncationSelectionPolicy",
                                "NoTerminationPolicy", "choice", "uniform", "loguniform"],
    "plinth.train.automl": ["AutoMLConfig", "AutoMLRun", "FeaturizationConfig",
                            "ForecastingParameters", "get_primary_metrics"],
    "plinth.train.automl.run": ["AutoMLRun"],
    "plinth.train.automl.utilities": ["get_primary_metrics"],
    "plinth.automl.core.forecasting_parameters": ["ForecastingParameters"],
    "plinth.automl.core.featurization": ["FeaturizationConfig"],
    "plinth.data": ["OutputFileDatasetConfig"],
    "plinth.widgets": ["RunDetails"],
    "plinth.exceptions": ["PlinthError", "UserErrorException", "ActivityFailedException",
                          "ModelNotFoundException", "WorkspaceException"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_exported(module):
    mod = importlib.import_module(module)
    for name in PUBLIC[module]:
        assert name in mod.__all__, f"{module}.__all__ lacks {name}"
        assert getattr(mod, name) is not None


def test_version_is_the_same_everywhere():
    import plinth.core

    assert plinth.__version__ == plinth.core.VERSION
    assert plinth.__version__.count(".") == 2


def test_every_error_derives_from_one_base():
    from plinth import exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.PlinthError)
