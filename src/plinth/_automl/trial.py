"""An AutoML child run: ``python -m plinth._automl.trial --settings automl_settings.json
--training-data DATASET [--validation-data DATASET] --spec JSON``.

``spec["kind"]`` says which: ``setup`` (guardrails, featurization summary, the data's size),
``iteration`` (one model and its hyperparameters, measured as the settings say, then fitted
on all the training data), ``ensemble`` (voting or stack, from earlier iterations' held-out
predictions) or ``explain`` (permutation feature importance of the best model).

An iteration leaves ``outputs/model.pkl`` (a fitted scikit-learn pipeline taking the raw
columns), ``outputs/scoring_file.py`` and ``outputs/conda_env.yml`` to deploy it, every
metric of its task logged, and its held-out predictions for the ensembles.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from plinth._automl import metrics, models
from plinth._automl.data import Data, Folds, make_folds, prepare

__all__ = ["main", "MODEL_FILE", "PREDICTIONS_FILE", "IMPORTANCE_FILE"]

MODEL_FILE = "outputs/model.pkl"
PREDICTIONS_FILE = "predictions/held_out.npz"
IMPORTANCE_FILE = "outputs/feature_importance.json"
SETUP_FILE = "outputs/setup.json"
#: Models are seeded alike in every iteration, so a rerun gives the same model.
MODEL_SEED = 0
#: Rows and repeats for permutation importance: enough for a stable ranking, bounded time.
EXPLAIN_ROWS, EXPLAIN_REPEATS, EXPLAIN_MAX_ENGINEERED = 2_000, 5, 300


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plinth._automl.trial")
    parser.add_argument("--settings", required=True)
    parser.add_argument("--training-data", required=True)
    parser.add_argument("--validation-data")
    parser.add_argument("--spec", required=True)
    args = parser.parse_args(argv)
    from plinth.core import Run

    settings = json.loads(Path(args.settings).read_text())
    spec = json.loads(args.spec)
    run = Run.get_context()
    training, validation = _load(run, settings)
    kinds = {"setup": setup, "iteration": iteration, "ensemble": ensemble, "explain": explain}
    kinds[spec["kind"]](run, settings, spec, training, validation)
    return 0


def _load(run: Any, settings: dict[str, Any]) -> tuple[Data, Data | None]:
    inputs = run.input_datasets
    training = prepare(_frame(inputs["training_data"]), settings, "training_data")
    validation = None
    if "validation_data" in inputs:
        validation = prepare(_frame(inputs["validation_data"]), settings, "validation_data",
                             classes=training.classes)
    return training, validation


def _frame(dataset: Any) -> pd.DataFrame:
    if isinstance(dataset, (str, Path)):
        raise SystemExit(f"Expected a tabular dataset as a direct input, got {dataset}.")
    return dataset.to_pandas_dataframe()


# -- setup -----------------------------------------------------------------------------------

def setup(run: Any, settings: dict[str, Any], spec: dict[str, Any], training: Data,
          validation: Data | None) -> None:
    from plinth._automl.guardrails import check_guardrails, format_guardrails

    folds = make_folds(training, settings, validation)
    if settings["task"] == "forecasting":
        from plinth._automl.timeseries import check_series

        check_series(training.X, settings["forecasting"])
    featurizer = None
    featurizer_columns = training.X.columns.difference(_series_columns(settings))
    if settings["featurization"] != "off" and len(featurizer_columns):
        featurizer = _featurizer(settings).fit(training.X, training.y)
    guardrails = check_guardrails(training.X, training.y, _guardrail_task(settings),
                                  featurizer, validation=folds.description,
                                  n_rows=training.n_rows)
    n_features = (len(featurizer.get_engineered_feature_names()) if featurizer is not None
                  else training.X.shape[1])
    summary = featurizer.get_featurization_summary() if featurizer is not None else []
    report = [f"Data: {training.n_rows} rows, {training.X.shape[1]} columns, "
              f"{n_features} features after featurization; metrics by {folds.description}.",
              *format_guardrails(guardrails).splitlines()]
    for line in report:
        print(line, flush=True)
    _write(run, SETUP_FILE, json.dumps({
        "n_rows": training.n_rows, "n_raw_columns": int(training.X.shape[1]),
        "n_features": n_features, "classes": _plain(training.classes),
        "validation": folds.description, "guardrails": guardrails,
        "featurization_summary": summary, "report": report}, indent=2, default=str))


def _guardrail_task(settings: dict[str, Any]) -> str:
    return "regression" if settings["task"] == "forecasting" else settings["task"]


def _featurizer(settings: dict[str, Any]) -> Any:
    from plinth._automl.featurize import DataTransformer

    return DataTransformer(_guardrail_task(settings), settings["featurization"],
                           drop_columns=tuple(_series_columns(settings)))


def _series_columns(settings: dict[str, Any]) -> list[str]:
    """A forecast's time and series id columns: the forecasting pipeline's own features."""
    forecasting = settings.get("forecasting")
    if not forecasting:
        return []
    return [forecasting["time_column_name"],
            *(forecasting.get("time_series_id_column_names") or [])]


# -- an iteration ----------------------------------------------------------------------------

def make_model(settings: dict[str, Any], model: str, params: dict[str, Any],
               classes: list[Any] | None) -> Any:
    """An unfitted pipeline for one iteration: featurization, scaling, the model."""
    task = settings["task"]
    featurizer = _featurizer(settings) if settings["featurization"] != "off" else None
    if task == "forecasting":
        from plinth._automl.forecasting import ForecastingPipeline

        estimator = None
        if model not in models.FORECASTING_ONLY:
            estimator = models.get(model).build("regression", params, MODEL_SEED)
        return ForecastingPipeline(settings["forecasting"], model=model, estimator=estimator,
                                   featurizer=featurizer)
    pipeline = models.make_pipeline(featurizer, models.get(model), task, params, MODEL_SEED)
    if task == "classification":
        from plinth._automl.fitted import decoding

        return decoding(list(pipeline.steps), classes)
    return pipeline


def iteration(run: Any, settings: dict[str, Any], spec: dict[str, Any], training: Data,
              validation: Data | None) -> None:
    folds = make_folds(training, settings, validation)
    model, params = spec["model"], spec["params"]
    print(f"Iteration {spec['iteration']}: {model} {json.dumps(params, sort_keys=True)}; "
          f"metrics by {folds.description}.", flush=True)
    held_out = _held_out(settings, folds, training, model, params)
    scores = _fold_scores(settings, folds, training, held_out)
    _log_scores(run, settings, scores)
    final = make_model(settings, model, params, training.classes)
    _fit(final, settings, training.X, training.y, training.w)
    _save(run, settings, final, training, folds, held_out, [model])
    # The steps between featurization and the model: the scaler, if any.
    steps = list(getattr(final, "named_steps", {}))[:-1]
    scalers = [name for name in steps if name not in ("datatransformer", "timeseriestransformer")]
    run.add_properties({"run_preprocessor": ", ".join(scalers),
                        "score": repr(scores[settings["primary_metric"]])})


def _held_out(settings: dict[str, Any], folds: Folds, training: Data, model: str,
              params: dict[str, Any]) -> np.ndarray:
    """Each fold's model's predictions for the rows it did not see (probabilities for
    classification), in the evaluation data's row order."""
    evaluation = folds.evaluation
    out = None
    for index, (fit_rows, predict_rows) in enumerate(folds.splits):
        estimator = make_model(settings, model, params, training.classes)
        weights = training.w[fit_rows] if training.w is not None else None
        _fit(estimator, settings, training.X.iloc[fit_rows], training.y[fit_rows], weights)
        rows = evaluation.X.iloc[predict_rows]
        predicted = _predict(estimator, settings, rows, training.classes)
        if out is None:
            out = np.full((evaluation.n_rows, *predicted.shape[1:]), np.nan)
        out[predict_rows] = predicted
        print(f"  fold {index + 1}/{len(folds.splits)} done", flush=True)
    return out


def _fit(estimator: Any, settings: dict[str, Any], X: pd.DataFrame, y: np.ndarray,
         w: np.ndarray | None) -> None:
    if w is not None and settings["task"] != "forecasting":
        last = estimator.steps[-1][0]
        estimator.fit(X, y, **{f"{last}__sample_weight": w})
    else:
        estimator.fit(X, y)


def _predict(estimator: Any, settings: dict[str, Any], X: pd.DataFrame,
             classes: list[Any] | None) -> np.ndarray:
    """Predicted values, or for classification one probability column per class code (a
    model that never saw a class in its fold gives it probability 0)."""
    if settings["task"] != "classification":
        return np.asarray(estimator.predict(X), dtype=float)
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    seen = np.asarray(estimator.steps[-1][1].classes_).astype(int)
    out = np.zeros((len(X), len(classes)))
    out[:, seen] = proba
    return out


def _fold_scores(settings: dict[str, Any], folds: Folds, training: Data,
                 held_out: np.ndarray) -> dict[str, float]:
    """Every metric per fold, averaged over the folds (azureml's way)."""
    evaluation = folds.evaluation
    y_min, y_max = _y_range(settings, training)
    per_fold = []
    for index in range(len(folds.splits)):
        rows = np.flatnonzero(folds.fold == index)
        weights = evaluation.w[rows] if evaluation.w is not None else None
        classes = np.arange(len(training.classes)) if training.classes is not None else None
        per_fold.append(metrics.score(settings["task"], evaluation.y[rows], held_out[rows],
                                      classes=classes, sample_weight=weights,
                                      y_min=y_min, y_max=y_max))
    return metrics.average(per_fold)


def _log_scores(run: Any, settings: dict[str, Any], scores: dict[str, float]) -> None:
    for name, value in sorted(scores.items()):
        if value is not None and np.isfinite(value):
            run.log(name, float(value))
    primary = scores.get(settings["primary_metric"])
    print(f"  {settings['primary_metric']}: {primary}", flush=True)
    run.flush()


def _save(run: Any, settings: dict[str, Any], model: Any, training: Data, folds: Folds,
          held_out: np.ndarray, algorithms: list[str]) -> None:
    from plinth._automl.scoring import conda_env, scoring_file

    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "model.pkl"
        joblib.dump(model, path)
        run.upload_file(MODEL_FILE, str(path))
        predictions = Path(temp) / "held_out.npz"
        np.savez_compressed(predictions, held_out=held_out, fold=folds.fold,
                            y=folds.evaluation.y)
        run.upload_file(PREDICTIONS_FILE, str(predictions))
    _write(run, "outputs/scoring_file.py", scoring_file(training.X, settings["task"]))
    _write(run, "outputs/conda_env.yml", conda_env(algorithms))


# -- ensembles -------------------------------------------------------------------------------

def ensemble(run: Any, settings: dict[str, Any], spec: dict[str, Any], training: Data,
             validation: Data | None) -> None:
    from plinth._automl import ensemble as ensembles

    folds = make_folds(training, settings, validation)
    members = spec["members"]
    held, fitted, algorithms = [], [], []
    for member_id in members:
        member = _run(run, member_id)
        with tempfile.TemporaryDirectory() as temp:
            member.download_file(PREDICTIONS_FILE, str(Path(temp) / "p.npz"))
            member.download_file(MODEL_FILE, str(Path(temp) / "m.pkl"))
            held.append(np.load(Path(temp) / "p.npz")["held_out"])
            fitted.append((member_id, _in_codes(joblib.load(Path(temp) / "m.pkl"))))
        algorithms.append(member.properties.get("run_algorithm", ""))
    task, metric = settings["task"], settings["primary_metric"]
    evaluation = folds.evaluation
    rows = folds.fold >= 0
    classes = np.arange(len(training.classes)) if training.classes is not None else None
    y_min, y_max = _y_range(settings, training)
    kind = spec["ensemble"]
    print(f"{kind} of {', '.join(members)}", flush=True)
    if kind == "VotingEnsemble":
        weights = ensembles.caruana_weights(
            [h[rows] for h in held], evaluation.y[rows], task, metric, classes=classes,
            sample_weight=evaluation.w[rows] if evaluation.w is not None else None,
            y_min=y_min, y_max=y_max)
        combined = sum(w * h for w, h in zip(weights, held, strict=True))
        chosen = [(name, est) for (name, est), w in zip(fitted, weights, strict=True) if w > 0]
        kept = [w for w in weights if w > 0]
        if task == "classification":
            final = ensembles.PreFittedSoftVotingClassifier(chosen, kept, classes=classes)
            step = "prefittedsoftvotingclassifier"
        else:
            final = ensembles.PreFittedSoftVotingRegressor(chosen, kept)
            step = "prefittedsoftvotingregressor"
        run.log_table("ensemble_weights", {"run_id": [n for n, _ in chosen],
                                           "weight": [float(w) for w in kept]})
        print("  weights: " + ", ".join(f"{n} {w:.3f}" for (n, _), w in zip(chosen, kept,
                                                                            strict=True)))
    else:
        combined = _cross_fit_stack(ensembles, task, held, folds, evaluation)
        meta = ensembles.fit_meta_learner(task, ensembles.stack_features(task, [
            h[rows] for h in held]), evaluation.y[rows], MODEL_SEED)
        if task == "classification":
            final = ensembles.StackEnsembleClassifier(fitted, meta, classes=classes)
            step = "stackensembleclassifier"
        else:
            final = ensembles.StackEnsembleRegressor(fitted, meta)
            step = "stackensembleregressor"
    scores = _fold_scores(settings, folds, training, combined)
    _log_scores(run, settings, scores)
    if task == "classification":
        from plinth._automl.fitted import decoding

        model = decoding([(step, final)], training.classes)
    else:
        from sklearn.pipeline import Pipeline

        model = Pipeline([(step, final)])
    _save(run, settings, model, training, folds, combined, algorithms)
    run.add_properties({"score": repr(scores[metric])})


def _in_codes(model: Any) -> Any:
    """A member as its ensemble sees it: answering in label codes, as the meta-learner and
    the voting weights were fitted."""
    from sklearn.pipeline import Pipeline

    from plinth._automl.fitted import LabelDecodingPipeline

    return Pipeline(model.steps) if isinstance(model, LabelDecodingPipeline) else model


def _cross_fit_stack(ensembles: Any, task: str, held: list[np.ndarray], folds: Folds,
                     evaluation: Data) -> np.ndarray:
    """The stack's own held-out predictions: for each fold, a meta-learner fitted on the
    other folds' rows (with one fold, on 5 parts of it) predicts the fold."""
    from sklearn.model_selection import KFold

    stacked = ensembles.stack_features(task, held)
    fold = folds.fold.copy()
    if len(folds.splits) == 1:
        rows = np.flatnonzero(fold == 0)
        for part, (_, inner) in enumerate(KFold(5, shuffle=True, random_state=0).split(rows)):
            fold[rows[inner]] = part
    out = np.full_like(held[0], np.nan)
    for part in sorted(set(fold[fold >= 0])):
        train = np.flatnonzero((fold >= 0) & (fold != part))
        test = np.flatnonzero(fold == part)
        meta = ensembles.fit_meta_learner(task, stacked[train], evaluation.y[train],
                                          MODEL_SEED)
        out[test] = (meta.predict_proba(stacked[test]) if task == "classification"
                     else meta.predict(stacked[test]))
    return out


def _y_range(settings: dict[str, Any], training: Data) -> tuple[float | None, float | None]:
    if settings["task"] == "classification":
        return None, None
    y_min = settings.get("y_min")
    y_max = settings.get("y_max")
    return (float(np.min(training.y)) if y_min is None else y_min,
            float(np.max(training.y)) if y_max is None else y_max)


# -- explanations ----------------------------------------------------------------------------

def explain(run: Any, settings: dict[str, Any], spec: dict[str, Any], training: Data,
            validation: Data | None) -> None:
    """Permutation importance of the best model's raw columns and, for a single model, of
    its engineered features; logged to this run and the AutoML run, and kept as a file."""
    best = _run(run, spec["run_id"])
    with tempfile.TemporaryDirectory() as temp:
        best.download_file(MODEL_FILE, str(Path(temp) / "m.pkl"))
        model = joblib.load(Path(temp) / "m.pkl")
    data = validation if validation is not None else training
    rows = np.random.default_rng(0).permutation(data.n_rows)[:EXPLAIN_ROWS]
    X, y = data.X.iloc[np.sort(rows)], data.y[np.sort(rows)]
    scorer = _scorer(settings, training)
    raw = _importance(model, X, y, scorer, set(_series_columns(settings)))
    result: dict[str, Any] = {"best_run_id": best.id, "metric": settings["primary_metric"],
                              "rows": int(len(X)), "raw": raw}
    steps = list(getattr(model, "named_steps", {}))
    if steps and steps[0] == "datatransformer" and len(steps) > 1:
        featurizer = model.named_steps["datatransformer"]
        names = featurizer.get_engineered_feature_names()
        if len(names) <= EXPLAIN_MAX_ENGINEERED:
            rest = model[1:]
            Z = pd.DataFrame(featurizer.transform(X), columns=names)
            result["engineered"] = _importance(rest, Z, y, scorer, set())
    for target in (run, run.parent):
        target.log_table("raw_feature_importance", _table(result["raw"]))
        if "engineered" in result:
            target.log_table("engineered_feature_importance", _table(result["engineered"]))
        target.flush()
    _write(run, IMPORTANCE_FILE, json.dumps(result, indent=2))
    top = sorted(raw.items(), key=lambda kv: -kv[1])[:10]
    print("Raw feature importance: " + ", ".join(f"{k} {v:.4f}" for k, v in top), flush=True)


def _scorer(settings: dict[str, Any], training: Data) -> Any:
    task, metric = settings["task"], settings["primary_metric"]
    sign = 1.0 if metrics.goal(metric) == "maximize" else -1.0
    y_min, y_max = _y_range(settings, training)
    classes = np.arange(len(training.classes)) if training.classes is not None else None

    def score(estimator: Any, X: Any, y: Any) -> float:
        predicted = _predict(estimator, settings, X, training.classes)
        value = metrics.score(task, y, predicted, classes=classes, y_min=y_min,
                              y_max=y_max)[metric]
        return sign * float(value)

    return score


def _importance(model: Any, X: pd.DataFrame, y: np.ndarray, scorer: Any,
                fixed: set[str]) -> dict[str, float]:
    """Mean drop in the (goal-signed) primary metric when each column is shuffled; the
    ``fixed`` columns (a series' time and id) are never shuffled."""
    from sklearn.inspection import permutation_importance

    columns = [c for c in X.columns if c not in fixed]
    estimator = _WithFixedColumns(model, X, columns) if fixed else model
    result = permutation_importance(estimator, X[columns], y, scoring=scorer,
                                    n_repeats=EXPLAIN_REPEATS, random_state=0)
    found = {str(c): float(v) for c, v in zip(columns, result.importances_mean, strict=True)}
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


class _WithFixedColumns:
    """``model`` seen through some of its columns: the others are put back as they were."""

    def __init__(self, model: Any, X: pd.DataFrame, columns: list[str]):
        self.model, self.order = model, list(X.columns)
        self.fixed = X.drop(columns=columns).reset_index(drop=True)

    def _whole(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([self.fixed, X.reset_index(drop=True)], axis=1)[self.order]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._whole(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self._whole(X))


def _table(importance: dict[str, float]) -> dict[str, list[Any]]:
    return {"feature": list(importance), "importance": list(importance.values())}


# -- helpers ---------------------------------------------------------------------------------

def _run(run: Any, run_id: str) -> Any:
    from plinth.core import Run

    return Run.get(run.experiment.workspace, run_id)


def _write(run: Any, name: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / Path(name).name
        path.write_text(text)
        run.upload_file(name, str(path))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [v.item() if hasattr(v, "item") else v for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
