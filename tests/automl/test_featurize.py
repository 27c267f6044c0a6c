"""DataTransformer (featurization 'auto' / 'off' / a FeaturizationConfig) and
FeaturizationConfig."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from plinth._automl.featurize import (
    CATEGORICAL_MAX_UNIQUE,
    HASH_MAX_BITS,
    HASH_MIN_BITS,
    TEXT_MAX_FEATURES,
    DataTransformer,
)
from plinth.exceptions import UserErrorException
from plinth.train.automl.featurization import FeaturizationConfig

DIABETES = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
WORDS = ("the quick brown fox jumps over a lazy dog while good bad great movie plot "
         "actors music ending").split()


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return pd.read_csv(DIABETES).sample(300, random_state=0).reset_index(drop=True)


def mixed_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "num": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "x": rng.normal(size=n),
        "color": rng.choice(["red", "green", "blue", None], n),
        "city": [f"city{i % 80}" for i in range(n)],
        "review": [" ".join(rng.choice(WORDS, 6)) for _ in range(n)],
        "date": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
        "const": 1,
        "flag": rng.random(n) < 0.5,
        "user": [f"u{i:05d}" for i in range(n)],
    })


def summary_by_column(transformer: DataTransformer) -> dict[str, dict]:
    return {row["RawFeatureName"]: row for row in transformer.get_featurization_summary()}


# --- 'auto' ------------------------------------------------------------------------------------
def test_diabetes_patient_id_is_dropped_and_numeric_columns_mean_imputed(diabetes):
    X = diabetes.drop(columns="Diabetic")
    transformer = DataTransformer().fit(X, diabetes["Diabetic"])

    summary = transformer.get_featurization_summary()
    assert [row["RawFeatureName"] for row in summary] == list(X.columns)
    assert summary[0] == {"RawFeatureName": "PatientID", "TypeDetected": "Ignore",
                          "Dropped": "Yes", "EngineeredFeatureCount": 0, "Transformations": []}
    for row in summary[1:]:
        assert row == {"RawFeatureName": row["RawFeatureName"], "TypeDetected": "Numeric",
                       "Dropped": "No", "EngineeredFeatureCount": 1,
                       "Transformations": ["MeanImputer"]}
    out = transformer.transform(X)
    assert out.shape == (300, 8) and out.dtype == np.float64
    assert transformer.get_engineered_feature_names()[0] == "Pregnancies_MeanImputer"
    assert transformer.engineered_to_raw_ == list(X.columns[1:])
    assert transformer.raw_columns_ == list(X.columns)
    np.testing.assert_array_equal(out[:, 0], X["Pregnancies"].to_numpy(dtype=float))
    # PatientID is not needed at predict time: it was dropped.
    np.testing.assert_array_equal(transformer.transform(X.drop(columns="PatientID")), out)


def test_each_column_type_is_detected_and_featurized():
    frame = mixed_frame()
    transformer = DataTransformer().fit(frame)
    summary = summary_by_column(transformer)

    assert {c: r["TypeDetected"] for c, r in summary.items()} == {
        "num": "Numeric", "x": "Numeric", "color": "Categorical", "city": "CategoricalHash",
        "review": "Text", "date": "DateTime", "const": "Ignore", "flag": "Categorical",
        "user": "Hashes"}
    assert summary["num"]["Transformations"] == ["MeanImputer", "ImputationMarker"]
    assert summary["num"]["EngineeredFeatureCount"] == 2
    assert summary["x"]["Transformations"] == ["MeanImputer"]
    assert summary["color"]["EngineeredFeatureCount"] == 3  # blue, green, red
    assert summary["color"]["Transformations"][-1] == "OneHotEncoder"
    assert summary["flag"]["EngineeredFeatureCount"] == 2
    hashed = summary["city"]["EngineeredFeatureCount"]
    assert 2 ** HASH_MIN_BITS <= hashed <= 2 ** HASH_MAX_BITS
    assert summary["city"]["Transformations"][-1] == "HashOneHotEncoder"
    assert 0 < summary["review"]["EngineeredFeatureCount"] <= TEXT_MAX_FEATURES
    assert summary["review"]["Transformations"] == ["StringCast", "TfIdf"]
    for dropped in ("const", "user"):
        assert summary[dropped]["Dropped"] == "Yes"
        assert summary[dropped]["EngineeredFeatureCount"] == 0
    assert "ID-like" in transformer.drop_reasons_["user"]
    assert "constant" in transformer.drop_reasons_["const"]

    names = transformer.get_engineered_feature_names()
    date_parts = [n.rsplit("_", 1)[1] for n in names if n.startswith("date_")]
    # 200 steps of 37 hours all fall in 2020, at whole hours: year/minute/second are constant.
    assert date_parts == ["Month", "Day", "DayOfWeek", "DayOfYear", "Hour"]
    assert "color_OneHotEncoder_red" in names
    assert any(n.startswith("review_TfIdf_") for n in names)

    out = transformer.transform(frame)
    assert out.shape == (200, len(names)) and out.dtype == np.float64
    assert not np.isnan(out).any()
    assert list(transformer.get_feature_names_out()) == names
    assert len(transformer.engineered_to_raw_) == len(names)
    assert sum(r["EngineeredFeatureCount"] for r in summary.values()) == len(names)
    for name, raw in zip(names, transformer.engineered_to_raw_, strict=True):
        assert name.startswith(raw + "_")


def test_low_cardinality_strings_one_hot_and_high_cardinality_hash():
    n = 150
    frame = pd.DataFrame({
        "few": [f"v{i % CATEGORICAL_MAX_UNIQUE}" for i in range(n)],
        "many": [f"v{i % (CATEGORICAL_MAX_UNIQUE + 5)}" for i in range(n)],
        "code": [i % 3 for i in range(n)],  # an integer code with 3 values
        "count": [i % 12 for i in range(n)],
    })
    summary = summary_by_column(DataTransformer().fit(frame))
    assert summary["few"]["TypeDetected"] == "Categorical"
    assert summary["few"]["EngineeredFeatureCount"] == CATEGORICAL_MAX_UNIQUE
    assert summary["many"]["TypeDetected"] == "CategoricalHash"
    assert summary["code"]["TypeDetected"] == "Categorical"
    assert summary["count"]["TypeDetected"] == "Numeric"


def test_numbers_and_dates_stored_as_strings_are_parsed():
    n = 60
    frame = pd.DataFrame({
        "amount": [f"{i * 1.5:.2f}" for i in range(n)],
        "when": [f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
    })
    transformer = DataTransformer().fit(frame)
    assert transformer.column_types_ == {"amount": "Numeric", "when": "DateTime"}
    out = transformer.transform(frame)
    np.testing.assert_allclose(out[:, 0], np.arange(n) * 1.5)
    months = out[:, transformer.get_engineered_feature_names().index(
        "when_DateTimeTransformer_Month")]
    np.testing.assert_array_equal(months, [1 + i % 12 for i in range(n)])


def test_unseen_categories_missing_values_and_column_order_at_predict_time():
    frame = mixed_frame()
    transformer = DataTransformer().fit(frame)
    names = transformer.get_engineered_feature_names()
    fresh = frame.iloc[:4].copy()
    fresh["color"] = ["purple", None, "red", "red"]
    fresh.loc[0, "num"] = np.nan
    fresh.loc[0, "x"] = np.nan  # no missing values in training: imputed, no marker column
    fresh.loc[1, "date"] = "not a date"
    fresh.loc[2, "review"] = None
    fresh["extra"] = "ignored"

    out = transformer.transform(fresh[fresh.columns[::-1]])
    assert out.shape == (4, len(names)) and not np.isnan(out).any()
    one_hot = [i for i, n in enumerate(names) if n.startswith("color_OneHotEncoder_")]
    assert out[0, one_hot].tolist() == [0.0, 0.0, 0.0]  # unseen category: all zeros
    assert out[1, one_hot].sum() == 1.0  # missing: the most frequent category
    assert out[2, names.index("color_OneHotEncoder_red")] == 1.0
    assert out[0, names.index("num_ImputationMarker")] == 1.0
    assert out[0, names.index("num_MeanImputer")] == pytest.approx(frame["num"].mean())
    assert out[0, names.index("x_MeanImputer")] == pytest.approx(frame["x"].mean())
    assert "x_ImputationMarker" not in names
    # Same rows in the training order give the same features.
    np.testing.assert_array_equal(out, transformer.transform(fresh))


def test_missing_raw_column_at_transform_is_named():
    frame = mixed_frame()
    transformer = DataTransformer().fit(frame)
    with pytest.raises(UserErrorException, match="'color'"):
        transformer.transform(frame.drop(columns=["color"]))
    # Dropped columns (constant, ID-like) need not be given.
    transformer.transform(frame.drop(columns=["const", "user"]))


def test_fitting_twice_gives_identical_output():
    frame = mixed_frame()
    first, second = DataTransformer().fit(frame), DataTransformer().fit(frame)
    assert first.get_engineered_feature_names() == second.get_engineered_feature_names()
    np.testing.assert_array_equal(first.transform(frame), second.transform(frame))


def test_pickle_and_joblib_round_trip():
    frame = mixed_frame()
    transformer = DataTransformer().fit(frame)
    expected = transformer.transform(frame)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(transformer)).transform(frame),
                                  expected)
    buffer = io.BytesIO()
    joblib.dump(transformer, buffer)
    buffer.seek(0)
    restored = joblib.load(buffer)
    np.testing.assert_array_equal(restored.transform(frame), expected)
    assert restored.get_featurization_summary() == transformer.get_featurization_summary()


def test_numpy_input_gets_azureml_column_names():
    rng = np.random.default_rng(1)
    array = np.column_stack([rng.normal(size=50), rng.integers(0, 3, 50)]).astype(float)
    array[0, 0] = np.nan
    transformer = DataTransformer().fit(array)
    assert transformer.raw_columns_ == ["Column1", "Column2"]
    assert transformer.get_engineered_feature_names()[:2] == ["Column1_MeanImputer",
                                                              "Column1_ImputationMarker"]
    assert transformer.transform(array[:5]).shape[0] == 5
    with pytest.raises(UserErrorException, match="2-D"):
        transformer.transform(array[:, 0])


def test_constructor_drop_columns_are_removed_first():
    frame = mixed_frame().assign(weight=1.0, label_time=pd.Timestamp("2020-01-01"))
    transformer = DataTransformer(drop_columns=("weight", "label_time", "absent")).fit(frame)
    assert "weight" not in transformer.raw_columns_
    assert "weight" not in summary_by_column(transformer)
    assert transformer.transform(frame.drop(columns=["weight", "label_time"])).shape[0] == 200


def test_every_column_dropped_is_an_error():
    frame = pd.DataFrame({"const": [1] * 10, "empty": [np.nan] * 10})
    with pytest.raises(UserErrorException, match="dropped every column"):
        DataTransformer().fit(frame)


def test_bad_featurization_and_task_values():
    frame = mixed_frame(20)
    with pytest.raises(UserErrorException, match="featurization"):
        DataTransformer(featurization="sometimes").fit(frame)
    with pytest.raises(UserErrorException, match="task"):
        DataTransformer(task="clustering").fit(frame)


# --- 'off' -------------------------------------------------------------------------------------
def test_off_passes_numeric_columns_through_with_nans():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1, 2, 3], "c": [True, False, True]})
    transformer = DataTransformer(featurization="off").fit(frame)
    out = transformer.transform(frame[["c", "b", "a"]])
    np.testing.assert_array_equal(out, [[1, 1, 1], [np.nan, 2, 0], [3, 3, 1]])
    assert transformer.get_engineered_feature_names() == ["a", "b", "c"]
    assert transformer.engineered_to_raw_ == ["a", "b", "c"]
    assert [r["TypeDetected"] for r in transformer.get_featurization_summary()] == ["Numeric"] * 3


def test_off_rejects_a_non_numeric_column_by_name():
    frame = pd.DataFrame({"a": [1.0, 2.0], "color": ["red", "blue"]})
    with pytest.raises(UserErrorException, match="'color'.*featurization='auto'"):
        DataTransformer(featurization="off").fit(frame)


# --- FeaturizationConfig overrides -------------------------------------------------------------
def test_config_column_purposes_and_drop_columns(diabetes):
    X = diabetes.drop(columns="Diabetic")
    config = FeaturizationConfig()
    config.add_column_purpose("Pregnancies", "Categorical")
    config.add_column_purpose("PatientID", "Numeric")
    config.add_column_purpose("BMI", "Ignore")
    config.add_drop_columns(["Age"])
    transformer = DataTransformer(featurization=config._spec()).fit(X)
    summary = summary_by_column(transformer)

    assert summary["Pregnancies"]["TypeDetected"] == "Categorical"
    assert summary["Pregnancies"]["EngineeredFeatureCount"] == X["Pregnancies"].nunique()
    assert summary["PatientID"]["Dropped"] == "No"
    assert summary["BMI"]["Dropped"] == "Yes"
    assert summary["Age"]["Dropped"] == "Yes" and summary["Age"]["TypeDetected"] == "Ignore"
    assert "Age" not in transformer.engineered_to_raw_
    # a FeaturizationConfig object is accepted as well as its spec
    same = DataTransformer(featurization=config).fit(X)
    np.testing.assert_array_equal(same.transform(X), transformer.transform(X))


def test_config_imputer_strategy():
    frame = pd.DataFrame({"a": [1.0, 2.0, 10.0, np.nan] * 5, "b": [1.0, np.nan, 3.0, 4.0] * 5,
                          "c": ["x", None, "y", "y"] * 5})
    config = FeaturizationConfig()
    config.add_transformer_params("Imputer", ["a"], {"strategy": "median"})
    config.add_transformer_params("Imputer", ["b"], {"strategy": "constant", "fill_value": -1})
    config.add_transformer_params("Imputer", ["c"], {"strategy": "constant",
                                                     "fill_value": "unknown"})
    transformer = DataTransformer(featurization=config._spec()).fit(frame)
    names = transformer.get_engineered_feature_names()
    out = transformer.transform(frame)
    assert out[3, names.index("a_MedianImputer")] == 2.0
    assert out[1, names.index("b_ConstantImputer")] == -1.0
    assert out[1, names.index("c_OneHotEncoder_unknown")] == 1.0
    assert summary_by_column(transformer)["c"]["Transformations"][0] == "ConstantCatImputer"

    bad = FeaturizationConfig()
    bad.add_transformer_params("Imputer", ["c"], {"strategy": "mean"})
    with pytest.raises(UserErrorException, match="'c'.*most_frequent"):
        DataTransformer(featurization=bad._spec()).fit(frame)


def test_blocked_one_hot_encoder_hashes_categoricals():
    frame = mixed_frame()
    config = FeaturizationConfig(blocked_transformers=["OneHotEncoder"])
    config.add_transformer_params("HashOneHotEncoder", ["color"], {"number_of_bits": 3})
    transformer = DataTransformer(featurization=config._spec()).fit(frame)
    color = summary_by_column(transformer)["color"]
    assert color["TypeDetected"] == "Categorical"
    assert color["Transformations"][-1] == "HashOneHotEncoder"
    assert color["EngineeredFeatureCount"] == 8
    assert not any("OneHotEncoder_" in n and "HashOneHotEncoder" not in n
                   for n in transformer.get_engineered_feature_names())
    out = transformer.transform(frame)
    color_columns = [i for i, raw in enumerate(transformer.engineered_to_raw_) if raw == "color"]
    assert (out[:, color_columns].sum(axis=1) == 1).all()  # one bucket per row


def test_blocked_text_transformers_fall_back_then_drop():
    frame = mixed_frame()[["x", "review"]]
    chain = [([], "TfIdf"), (["TfIdf"], "CountVectorizer"),
             (["TfIdf", "CountVectorizer"], "HashOneHotEncoder")]
    for blocked, used in chain:
        transformer = DataTransformer(featurization={"blocked_transformers": blocked}).fit(frame)
        assert summary_by_column(transformer)["review"]["Transformations"][-1] == used
    transformer = DataTransformer(featurization={"blocked_transformers": [
        "TfIdf", "CountVectorizer", "HashOneHotEncoder"]}).fit(frame)
    assert summary_by_column(transformer)["review"]["Dropped"] == "Yes"


def test_tfidf_params():
    frame = mixed_frame()[["review"]]
    config = FeaturizationConfig()
    config.add_transformer_params("TfIdf", ["review"], {"max_features": 5, "ngram_range": [1, 1]})
    transformer = DataTransformer(featurization=config._spec()).fit(frame)
    names = transformer.get_engineered_feature_names()
    assert len(names) == 5 and all(len(n.split("_")[-1].split()) == 1 for n in names)


@pytest.mark.parametrize(("spec", "message"), [
    ({"column_purposes": {"nope": "Numeric"}}, "'nope'.*columns are: num"),
    ({"column_purposes": {"num": "Weird"}}, "Numeric, Categorical, CategoricalHash"),
    ({"drop_columns": ["nope"]}, "drop_columns.*'nope'"),
    ({"blocked_transformers": ["Magic"]}, "OneHotEncoder"),
    ({"transformer_params": {"Scaler": [{"columns": ["num"], "params": {}}]}}, "Imputer"),
    ({"transformer_params": {"Imputer": [{"columns": ["nope"], "params": {
        "strategy": "mean"}}]}}, "'nope'"),
    ({"colum_purposes": {}}, "column_purposes"),
])
def test_bad_spec_is_a_user_error_naming_the_valid_choices(spec, message):
    with pytest.raises(UserErrorException, match=message):
        DataTransformer(featurization=spec).fit(mixed_frame(30))


# --- FeaturizationConfig -----------------------------------------------------------------------
def test_featurization_config_builds_a_json_spec():
    config = FeaturizationConfig(blocked_transformers="LabelEncoder",
                                 column_purposes={"a": "numeric"}, drop_columns=["d"],
                                 transformer_params={"Imputer": [(["a"], {"strategy": "median"})]},
                                 dataset_language="ENG", prediction_transform_type="numeric")
    config.add_column_purpose("b", "categoricalhash")
    config.add_blocked_transformers(["TfIdf", "LabelEncoder"])
    config.add_drop_columns("e")
    config.add_transformer_params("HashOneHotEncoder", ["b"], {"number_of_bits": 4})
    spec = config._spec()
    assert spec == {
        "column_purposes": {"a": "Numeric", "b": "CategoricalHash"},
        "drop_columns": ["d", "e"],
        "blocked_transformers": ["LabelEncoder", "TfIdf"],
        "transformer_params": {
            "Imputer": [{"columns": ["a"], "params": {"strategy": "median"}}],
            "HashOneHotEncoder": [{"columns": ["b"], "params": {"number_of_bits": 4}}]},
        "dataset_language": "eng",
        "prediction_transform_type": "Numeric",
    }
    assert json.loads(json.dumps(spec)) == spec
    assert FeaturizationConfig._from_spec(spec) == config
    assert config.column_purposes == {"a": "Numeric", "b": "CategoricalHash"}
    assert config.transformer_params["Imputer"] == [(["a"], {"strategy": "median"})]
    config.column_purposes["z"] = "Text"  # properties are copies
    assert "z" not in config.column_purposes


def test_featurization_config_transformer_params_get_replace_remove():
    config = FeaturizationConfig()
    config.add_transformer_params("Imputer", ["a", "b"], {"strategy": "mean"})
    config.add_transformer_params("Imputer", ["b", "a"], {"strategy": "median"})  # replaces
    config.add_transformer_params("Imputer", ["c"], {"strategy": "most_frequent"})
    assert config.get_transformer_params("Imputer", ["a", "b"]) == {"strategy": "median"}
    assert config.get_transformer_params("Imputer", ["a"]) == {}
    assert len(config.transformer_params["Imputer"]) == 2
    config.remove_transformer_params("Imputer", ["a"])
    assert config.get_transformer_params("Imputer", ["b"]) == {"strategy": "median"}
    config.remove_transformer_params("Imputer")
    assert config.transformer_params == {}
    config.add_column_purpose("a", "Text")
    config.remove_column_purpose("a")
    assert config.column_purposes == {}


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: c.add_column_purpose("a", "Number"), "feature_type.*Numeric, Categorical"),
    (lambda c: c.add_column_purpose("", "Numeric"), "column_name"),
    (lambda c: c.add_blocked_transformers(["Scaler"]), "blocked_transformers.*OneHotEncoder"),
    (lambda c: c.add_drop_columns([]), "drop_columns"),
    (lambda c: c.add_transformer_params("Scaler", ["a"], {}), "transformer.*Imputer"),
    (lambda c: c.add_transformer_params("Imputer", ["a"], {"strategy": "avg"}),
     "strategy.*mean, median, most_frequent, constant"),
    (lambda c: c.add_transformer_params("Imputer", ["a"], {"strategy": "mean", "x": 1}),
     "unknown parameter.*x"),
    (lambda c: c.add_transformer_params("HashOneHotEncoder", ["a"], {"number_of_bits": 99}),
     "number_of_bits"),
    (lambda c: c.add_transformer_params("TfIdf", ["a"], {"ngram_range": [2, 1]}), "ngram_range"),
    (lambda c: FeaturizationConfig(column_purposes={"a": "Blob"}), "column_purposes\\['a'\\]"),
    (lambda c: FeaturizationConfig(dataset_language="english"), "dataset_language"),
    (lambda c: FeaturizationConfig(prediction_transform_type="Float"),
     "prediction_transform_type.*Numeric, Integer"),
    (lambda c: FeaturizationConfig(prediction_transform_type="Integer"),
     "does not cast predictions"),
])
def test_featurization_config_rejects_bad_names_early(call, message):
    with pytest.raises(UserErrorException, match=message):
        call(FeaturizationConfig())
