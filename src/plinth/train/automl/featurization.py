"""Customized featurization for AutoML (azureml's ``FeaturizationConfig``).

Pass a :class:`FeaturizationConfig` as ``AutoMLConfig(featurization=...)`` to change what
featurization ``'auto'`` would do:

* ``column_purposes``: force a column's type (``Numeric``, ``Categorical``,
  ``CategoricalHash``, ``Text``, ``DateTime`` or ``Ignore``) instead of detecting it;
* ``drop_columns``: columns removed before featurization;
* ``blocked_transformers``: transformers not to use, by azureml's names. Plinth uses
  ``OneHotEncoder`` (low-cardinality categoricals), ``HashOneHotEncoder`` (high-cardinality
  categoricals), ``TfIdf`` (text), ``CountVectorizer`` and ``LabelEncoder`` (fallbacks). When a
  column's transformer is blocked the next one is used:

  - Categorical: OneHotEncoder -> HashOneHotEncoder -> LabelEncoder -> column dropped;
  - CategoricalHash: HashOneHotEncoder -> LabelEncoder -> column dropped;
  - Text: TfIdf -> CountVectorizer -> HashOneHotEncoder (hashed word n-grams) -> dropped.

  The other azureml names (``TextTargetEncoder``, ``CatTargetEncoder``, ``WoETargetEncoder``,
  ``WordEmbedding``, ``NaiveBayes``) are accepted; Plinth never uses those transformers, so
  blocking them changes nothing.
* ``transformer_params``: parameters of ``Imputer`` (``strategy``: ``mean``, ``median``,
  ``most_frequent`` or ``constant``, with ``fill_value``), ``HashOneHotEncoder``
  (``number_of_bits``: the column is hashed into ``2 ** number_of_bits`` columns) and
  ``TfIdf`` (arguments of scikit-learn's ``TfidfVectorizer``, e.g. ``max_features``,
  ``ngram_range``), per list of columns.

Example::

    featurization_config = FeaturizationConfig()
    featurization_config.add_column_purpose("Pregnancies", "Categorical")
    featurization_config.add_drop_columns(["PatientID"])
    featurization_config.add_transformer_params("Imputer", ["Age"], {"strategy": "median"})
    featurization_config.add_blocked_transformers(["LabelEncoder"])
"""

from __future__ import annotations

import copy
from numbers import Integral
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["FeaturizationConfig"]

# Column purposes a user may set (azureml's FeatureType names).
COLUMN_PURPOSES = ("Numeric", "Categorical", "CategoricalHash", "Text", "DateTime", "Ignore")

# Transformer names ``blocked_transformers`` accepts (azureml's SupportedTransformers).
BLOCKABLE_TRANSFORMERS = (
    "TextTargetEncoder", "OneHotEncoder", "CatTargetEncoder", "TfIdf", "WoETargetEncoder",
    "LabelEncoder", "WordEmbedding", "NaiveBayes", "CountVectorizer", "HashOneHotEncoder",
)

# Transformers whose parameters ``transformer_params`` may set.
CUSTOMIZABLE_TRANSFORMERS = ("Imputer", "HashOneHotEncoder", "TfIdf")

IMPUTER_STRATEGIES = ("mean", "median", "most_frequent", "constant")
# TfidfVectorizer arguments that may be set through transformer_params["TfIdf"].
TFIDF_PARAMS = ("max_features", "ngram_range", "min_df", "max_df", "lowercase", "stop_words",
                "sublinear_tf", "use_idf", "smooth_idf", "norm", "binary", "analyzer",
                "token_pattern")
# number_of_bits of HashOneHotEncoder: 2 to 2**16 columns.
HASH_BITS_RANGE = (1, 16)
PREDICTION_TRANSFORM_TYPES = ("Numeric", "Integer")
SPEC_KEYS = ("column_purposes", "drop_columns", "blocked_transformers", "transformer_params",
             "dataset_language", "prediction_transform_type")


def _choice(value: Any, choices: tuple[str, ...], argument: str) -> str:
    """The canonical spelling of ``value`` among ``choices`` (case-insensitive)."""
    if isinstance(value, str):
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
    raise UserErrorException(
        f"{argument} must be one of {', '.join(choices)}; got {value!r}.")


def _column_name(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserErrorException(f"{argument} must be a non-empty column name (str), "
                                 f"got {value!r}.")
    return value


def _column_list(value: Any, argument: str) -> list[str]:
    """A str or a list of str as a list of column names."""
    if isinstance(value, str):
        return [_column_name(value, argument)]
    if not isinstance(value, (list, tuple)) or not value:
        raise UserErrorException(
            f"{argument} must be a column name or a non-empty list of column names, "
            f"got {value!r}.")
    return [_column_name(v, argument) for v in value]


def _transformer_params(transformer: str, params: Any, argument: str) -> dict[str, Any]:
    """``params`` of ``transformer`` checked (and JSON lists made tuples where needed)."""
    if not isinstance(params, dict):
        raise UserErrorException(f"{argument} must be a dict of parameters, got {params!r}.")
    out = dict(params)
    if transformer == "Imputer":
        _only_keys(out, ("strategy", "fill_value"), argument)
        if "strategy" not in out:
            raise UserErrorException(
                f"{argument} must set 'strategy' (one of {', '.join(IMPUTER_STRATEGIES)}).")
        out["strategy"] = _choice(out["strategy"], IMPUTER_STRATEGIES, f"{argument}['strategy']")
        if "fill_value" in out and out["strategy"] != "constant":
            raise UserErrorException(
                f"{argument}['fill_value'] only applies with strategy 'constant'; "
                f"got strategy {out['strategy']!r}.")
    elif transformer == "HashOneHotEncoder":
        _only_keys(out, ("number_of_bits",), argument)
        bits = out.get("number_of_bits")
        low, high = HASH_BITS_RANGE
        if (not isinstance(bits, Integral) or isinstance(bits, bool)
                or not low <= bits <= high):
            raise UserErrorException(
                f"{argument}['number_of_bits'] must be an int from {low} to {high}, "
                f"got {bits!r}.")
        out["number_of_bits"] = int(bits)
    elif transformer == "TfIdf":
        _only_keys(out, TFIDF_PARAMS, argument)
        if "ngram_range" in out:
            ngram = out["ngram_range"]
            if (not isinstance(ngram, (list, tuple)) or len(ngram) != 2
                    or not all(isinstance(n, Integral) and not isinstance(n, bool) and n >= 1
                               for n in ngram) or ngram[0] > ngram[1]):
                raise UserErrorException(
                    f"{argument}['ngram_range'] must be two ints (min_n, max_n) with "
                    f"1 <= min_n <= max_n, got {ngram!r}.")
            out["ngram_range"] = (int(ngram[0]), int(ngram[1]))
    return out


def _only_keys(params: dict[str, Any], allowed: tuple[str, ...], argument: str) -> None:
    unknown = sorted(str(k) for k in params if k not in allowed)
    if unknown:
        raise UserErrorException(
            f"{argument} has unknown parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(allowed)}.")


def _language(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise UserErrorException(
            "dataset_language must be a three-letter ISO 639-3 code such as 'eng' or 'deu', "
            f"got {value!r}.")
    return value.lower()


def _prediction_transform_type(value: Any) -> str | None:
    if value is None:
        return None
    value = _choice(value, PREDICTION_TRANSFORM_TYPES, "prediction_transform_type")
    if value != "Numeric":
        raise UserErrorException(
            f"prediction_transform_type={value!r}: Plinth's AutoML does not cast predictions "
            "yet; leave it out (predictions are numeric), or round them yourself.")
    return value


def normalize_spec(spec: Any) -> dict[str, Any]:
    """A featurization spec (the dict :meth:`FeaturizationConfig._spec` returns) checked and
    in canonical form; a UserErrorException names what is wrong. Column names are not checked
    against data here (the featurizer does that at fit)."""
    if not isinstance(spec, dict):
        raise UserErrorException(f"featurization must be 'auto', 'off' or a dict from "
                                 f"FeaturizationConfig._spec(), got {spec!r}.")
    unknown = sorted(str(k) for k in spec if k not in SPEC_KEYS)
    if unknown:
        raise UserErrorException(
            f"featurization has unknown key(s) {', '.join(unknown)}; "
            f"valid: {', '.join(SPEC_KEYS)}.")
    config = FeaturizationConfig(
        blocked_transformers=spec.get("blocked_transformers"),
        column_purposes=spec.get("column_purposes"),
        transformer_params=spec.get("transformer_params"),
        drop_columns=spec.get("drop_columns"),
        dataset_language=spec.get("dataset_language"),
        prediction_transform_type=spec.get("prediction_transform_type"),
    )
    return config._spec()


class FeaturizationConfig:
    """Featurization choices for AutoML: column purposes, dropped columns, blocked
    transformers and transformer parameters (azureml's ``FeaturizationConfig``).

    :param blocked_transformers: azureml transformer names not to use (see the module doc).
    :param column_purposes: ``{column: purpose}``; purposes are ``Numeric``, ``Categorical``,
        ``CategoricalHash``, ``Text``, ``DateTime``, ``Ignore``.
    :param transformer_params: ``{transformer: [(columns, params), ...]}`` for ``Imputer``,
        ``HashOneHotEncoder`` and ``TfIdf``.
    :param drop_columns: columns to remove before featurization.
    :param dataset_language: three-letter ISO 639-3 code of the text columns' language (kept
        for azureml compatibility; TF-IDF does not depend on it).
    :param prediction_transform_type: ``'Numeric'`` only (``'Integer'``, azureml's cast of
        regression predictions, is not offered yet and is refused).
    """

    def __init__(self, blocked_transformers: list[str] | None = None,
                 column_purposes: dict[str, str] | None = None,
                 transformer_params: dict[str, list[Any]] | None = None,
                 drop_columns: list[str] | None = None,
                 dataset_language: str | None = None,
                 prediction_transform_type: str | None = None):
        self._blocked_transformers: list[str] = []
        self._column_purposes: dict[str, str] = {}
        self._transformer_params: dict[str, list[tuple[list[str], dict[str, Any]]]] = {}
        self._drop_columns: list[str] = []
        if blocked_transformers is not None:
            self.add_blocked_transformers(blocked_transformers)
        if column_purposes is not None:
            if not isinstance(column_purposes, dict):
                raise UserErrorException(
                    "column_purposes must be a dict {column name: purpose}, "
                    f"got {column_purposes!r}.")
            for column, purpose in column_purposes.items():
                _column_name(column, "column_purposes")
                self._column_purposes[column] = _choice(
                    purpose, COLUMN_PURPOSES, f"column_purposes[{column!r}]")
        if transformer_params is not None:
            self._set_transformer_params(transformer_params)
        if drop_columns is not None and not (isinstance(drop_columns, (list, tuple))
                                             and not drop_columns):
            self.add_drop_columns(drop_columns)
        self.dataset_language = _language(dataset_language)
        self.prediction_transform_type = _prediction_transform_type(prediction_transform_type)

    # --- properties -------------------------------------------------------------------------
    @property
    def blocked_transformers(self) -> list[str]:
        """The blocked transformers' names."""
        return list(self._blocked_transformers)

    @property
    def column_purposes(self) -> dict[str, str]:
        """``{column: purpose}`` set by the user."""
        return dict(self._column_purposes)

    @property
    def drop_columns(self) -> list[str]:
        """The columns removed before featurization."""
        return list(self._drop_columns)

    @property
    def transformer_params(self) -> dict[str, list[tuple[list[str], dict[str, Any]]]]:
        """``{transformer: [(columns, params), ...]}``."""
        return copy.deepcopy(self._transformer_params)

    # --- column purposes --------------------------------------------------------------------
    def add_column_purpose(self, column_name: str, feature_type: str) -> None:
        """Treat ``column_name`` as ``feature_type`` (``Numeric``, ``Categorical``,
        ``CategoricalHash``, ``Text``, ``DateTime`` or ``Ignore``)."""
        column = _column_name(column_name, "column_name")
        self._column_purposes[column] = _choice(feature_type, COLUMN_PURPOSES, "feature_type")

    def remove_column_purpose(self, column_name: str) -> None:
        """Go back to detecting ``column_name``'s type."""
        self._column_purposes.pop(_column_name(column_name, "column_name"), None)

    # --- blocked transformers and dropped columns -------------------------------------------
    def add_blocked_transformers(self, transformers: str | list[str]) -> None:
        """Block one transformer or a list of them, by azureml's names."""
        names = [transformers] if isinstance(transformers, str) else transformers
        if not isinstance(names, (list, tuple)):
            raise UserErrorException(
                "transformers must be a transformer name or a list of them "
                f"(valid: {', '.join(BLOCKABLE_TRANSFORMERS)}), got {transformers!r}.")
        for name in names:
            canonical = _choice(name, BLOCKABLE_TRANSFORMERS, "blocked_transformers")
            if canonical not in self._blocked_transformers:
                self._blocked_transformers.append(canonical)

    def add_drop_columns(self, drop_columns: str | list[str]) -> None:
        """Remove a column or a list of columns before featurization."""
        for column in _column_list(drop_columns, "drop_columns"):
            if column not in self._drop_columns:
                self._drop_columns.append(column)

    # --- transformer parameters -------------------------------------------------------------
    def add_transformer_params(self, transformer: str, cols: list[str],
                               params: dict[str, Any]) -> None:
        """Set ``params`` of ``transformer`` (``Imputer``, ``HashOneHotEncoder``, ``TfIdf``)
        for the columns ``cols``; replaces earlier params given for the same columns.

        Example: ``add_transformer_params("Imputer", ["Age"], {"strategy": "median"})``.
        """
        name = _choice(transformer, CUSTOMIZABLE_TRANSFORMERS, "transformer")
        columns = _column_list(cols, "cols")
        self._add_params(name, columns, _transformer_params(name, params, "params"))

    def get_transformer_params(self, transformer: str, cols: list[str]) -> dict[str, Any]:
        """The params of ``transformer`` set for exactly the columns ``cols`` ({} if none)."""
        name = _choice(transformer, CUSTOMIZABLE_TRANSFORMERS, "transformer")
        columns = set(_column_list(cols, "cols"))
        for entry_cols, params in self._transformer_params.get(name, []):
            if set(entry_cols) == columns:
                return dict(params)
        return {}

    def remove_transformer_params(self, transformer: str, cols: list[str] | None = None) -> None:
        """Remove ``transformer``'s params: all of them, or those of the columns ``cols``
        (an entry for exactly these columns is removed; other entries lose these columns)."""
        name = _choice(transformer, CUSTOMIZABLE_TRANSFORMERS, "transformer")
        if cols is None:
            self._transformer_params.pop(name, None)
            return
        columns = _column_list(cols, "cols")
        kept = []
        for entry_cols, params in self._transformer_params.get(name, []):
            if set(entry_cols) == set(columns):
                continue
            rest = [c for c in entry_cols if c not in columns]
            if rest:
                kept.append((rest, params))
        if kept:
            self._transformer_params[name] = kept
        else:
            self._transformer_params.pop(name, None)

    def _set_transformer_params(self, transformer_params: Any) -> None:
        if not isinstance(transformer_params, dict):
            raise UserErrorException(
                "transformer_params must be a dict {transformer: [(columns, params), ...]}, "
                f"got {transformer_params!r}.")
        for transformer, entries in transformer_params.items():
            if not isinstance(entries, (list, tuple)):
                raise UserErrorException(
                    f"transformer_params[{transformer!r}] must be a list of (columns, params) "
                    f"pairs, got {entries!r}.")
            for entry in entries:
                if isinstance(entry, dict) and set(entry) == {"columns", "params"}:
                    cols, params = entry["columns"], entry["params"]
                elif isinstance(entry, (list, tuple)) and len(entry) == 2:
                    cols, params = entry
                else:
                    raise UserErrorException(
                        f"transformer_params[{transformer!r}] entries must be (columns, params) "
                        f"pairs or {{'columns': [...], 'params': {{...}}}}, got {entry!r}.")
                name = _choice(transformer, CUSTOMIZABLE_TRANSFORMERS, "transformer_params")
                self._add_params(name, _column_list(cols, f"transformer_params[{name!r}]"),
                                 _transformer_params(name, params,
                                                     f"transformer_params[{name!r}]"))

    def _add_params(self, name: str, columns: list[str], params: dict[str, Any]) -> None:
        entries = self._transformer_params.setdefault(name, [])
        entries[:] = [(c, p) for c, p in entries if set(c) != set(columns)]
        entries.append((columns, params))

    # --- serialization ----------------------------------------------------------------------
    def _spec(self) -> dict[str, Any]:
        """The JSON-serializable dict the featurizer (``plinth._automl.featurize``) reads."""
        return {
            "column_purposes": dict(self._column_purposes),
            "drop_columns": list(self._drop_columns),
            "blocked_transformers": list(self._blocked_transformers),
            "transformer_params": {
                name: [{"columns": list(cols),
                        "params": {k: list(v) if isinstance(v, tuple) else v
                                   for k, v in params.items()}}
                       for cols, params in entries]
                for name, entries in self._transformer_params.items()
            },
            "dataset_language": self.dataset_language,
            "prediction_transform_type": self.prediction_transform_type,
        }

    @classmethod
    def _from_spec(cls, spec: dict[str, Any]) -> FeaturizationConfig:
        """The config a ``_spec()`` dict describes."""
        normalize_spec(spec)
        return cls(**{key: spec.get(key) for key in SPEC_KEYS})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeaturizationConfig) and self._spec() == other._spec()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        parts = [f"{key}={value!r}" for key, value in self._spec().items()
                 if value not in (None, [], {})]
        return f"FeaturizationConfig({', '.join(parts)})"
