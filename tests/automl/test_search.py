"""The AutoML search: each model's defaults first, cheapest first, then Optuna's TPE over
models and their hyperparameters; a search started again replays what was tried."""

from __future__ import annotations

from plinth._automl import models
from plinth._automl.search import Search, Tried

NAMES = ["LightGBM", "LogisticRegression", "RandomForest"]


def drive(search: Search, scores: dict[str, float], count: int) -> list[Tried]:
    history: list[Tried] = []
    for _ in range(count):
        model, params, searched = search.next(history)
        history.append(Tried(model, params, "complete", scores[model], searched))
    return history


def test_defaults_come_first_then_the_study_searches():
    search = Search("classification", NAMES, "maximize", n_rows=500, n_features=8, seed=1)
    history = drive(search, {"LightGBM": 0.9, "LogisticRegression": 0.7,
                             "RandomForest": 0.8}, 12)
    assert [t.model for t in history[:3]] == NAMES
    assert [t.searched for t in history[:3]] == [False] * 3
    assert history[0].params == models.get("LightGBM").default_params(
        "classification", 500, 8)
    assert all(t.searched for t in history[3:])
    # The searched points differ from the defaults and from each other.
    lightgbm = [t.params for t in history[3:] if t.model == "LightGBM"]
    assert lightgbm and all(p != history[0].params for p in lightgbm)
    # TPE favours the model that scored best once past its random start-up trials.
    later = [t.model for t in history[8:]]
    assert later.count("LightGBM") >= later.count("LogisticRegression")


def test_a_search_started_again_proposes_what_the_first_would_have():
    scores = {"LightGBM": 0.9, "LogisticRegression": 0.7, "RandomForest": 0.8}
    first = Search("classification", NAMES, "maximize", n_rows=500, n_features=8, seed=3)
    history = drive(first, scores, 7)
    again = Search("classification", NAMES, "maximize", n_rows=500, n_features=8, seed=3)
    assert again.next(history[:6])[:2] == (history[6].model, history[6].params)


def test_running_and_failed_iterations_are_not_counted_as_scores():
    search = Search("regression", ["ElasticNet", "LightGBM"], "minimize", n_rows=300,
                    n_features=5, seed=0)
    model, params, searched = search.next([])
    history = [Tried(model, params, "failed", None, searched)]
    model, params, searched = search.next(history)
    history.append(Tried(model, params, "running", None, searched))
    assert {t.model for t in history} == {"ElasticNet", "LightGBM"}
    model, _, searched = search.next(history)
    assert searched and model in ("ElasticNet", "LightGBM")
    study = search._study(history)
    assert [t.state.name for t in study.get_trials(deepcopy=False)] == ["FAIL", "RUNNING"]
