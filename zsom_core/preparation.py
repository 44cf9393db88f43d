"""From a loaded ``Table`` to the SOM's input, and back to the table's units.

>>> prepared = prepare_table(load_table(data, "penguins.csv"))   # doctest: +SKIP
>>> prepared.summary                                            # doctest: +SKIP
'344 rows, 5 features (5 numeric), 2 rows with a missing value'
>>> som = SOM(10, 8).fit(prepared.data)                         # doctest: +SKIP
>>> prepared.scaler.original_frame(som.weights_.reshape(-1, som.n_features_in_))  # doctest: +SKIP

Every column has a role (``ROLES``): the features are what the map is trained on, the
label colours the views, the identifier names the rows. Numeric features are scaled
(``SCALINGS``, z-score by default) and a categorical feature becomes one dummy per level,
each divided by the square root of its share of the rows (aweSOM's scaling: a level's
dummies then have unit mean square, so a 10-level column weighs about as much as one
numeric column). Statistics are over the observed values; a missing value stays NaN.
The ``FeatureScaler`` is part of the trained model: it takes new rows to the map's space
and prototypes back to the table's units, and is saved with the map (``save_model``).

Like ``tables``, this module needs pandas and is not imported by ``zsom_core``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .som import SOM
from .tables import CATEGORICAL, CONSTANT, IDENTIFIER, NUMERIC, TEXT, Table, TableError, table_from_frame

FEATURE, LABEL, IDENTIFIER_ROLE, IGNORED = "feature", "label", "identifier", "ignored"
ROLES = (FEATURE, LABEL, IDENTIFIER_ROLE, IGNORED)
SCALINGS = ("none", "zscore", "minmax", "robust")
# A categorical feature with more levels than this is refused: it is a label or an identifier.
MAX_ONE_HOT_LEVELS = 50
# A numeric column can be the label when it has at most this many distinct values.
MAX_LABEL_LEVELS = 50
BUILTIN_TABLES = ("iris", "wine", "breast_cancer", "digits")
_FORMAT_VERSION = 1
_LISTED_COLUMNS = 3


@dataclass(frozen=True)
class FeatureColumn:
    """One column of the map's input: ``(value - center) / scale * weight``; a dummy's value
    is 1 where ``source`` is ``level``, else 0, and its center is 0."""

    name: str
    source: str
    level: str | None
    center: float
    scale: float
    weight: float


class FeatureScaler:
    """Takes a table's rows to the map's space (``transform``) and back (``inverse_transform``)."""

    def __init__(self, columns: list[FeatureColumn]):
        self.columns = list(columns)

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, d) float64 of ``frame``'s rows, NaN where a feature is missing; a level not
        seen when the scaler was made gives all-zero dummies."""
        missing = sorted({column.source for column in self.columns} - set(map(str, frame.columns)))
        if missing:
            raise TableError(f"the table lacks the map's feature columns: {', '.join(missing)}")
        frame = frame.rename(columns=str)
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for index, column in enumerate(self.columns):
            values = frame[column.source]
            if column.level is None:
                raw = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                raw = np.where(values.isna().to_numpy(), np.nan,
                               (values.astype(str) == column.level).to_numpy(dtype=np.float64))
            out[:, index] = (raw - column.center) / column.scale * column.weight
        return out

    def inverse_transform(self, X) -> np.ndarray:
        """(m, d) values in the table's units: numbers as the columns had them, a dummy as
        the share of its level."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.columns):
            raise ValueError(f"expected an array of shape (m, {len(self.columns)}), got {X.shape}")
        weight, scale, center = (np.array([getattr(column, name) for column in self.columns])
                                 for name in ("weight", "scale", "center"))
        return X / weight * scale + center

    def original_frame(self, X) -> pd.DataFrame:
        return pd.DataFrame(self.inverse_transform(X), columns=self.feature_names)

    def original_axes(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(offset, axes)``, (d,) and (len(names), d), such that ``(X - offset) @ axes.T``
        is the named features of ``X`` in the table's units (a projection, as a PCA's
        mean and components are one)."""
        index = {column.name: position for position, column in enumerate(self.columns)}
        unknown = [name for name in names if name not in index]
        if unknown:
            raise ValueError(f"no feature named {unknown[0]!r}")
        offset, axes = np.zeros(len(self.columns)), np.zeros((len(names), len(self.columns)))
        for row, name in enumerate(names):
            column = self.columns[index[name]]
            axes[row, index[name]] = column.scale / column.weight
            offset[index[name]] = -column.center * column.weight / column.scale
        return offset, axes

    def to_dict(self) -> dict:
        return {"format": _FORMAT_VERSION, "columns": [asdict(column) for column in self.columns]}

    @classmethod
    def from_dict(cls, stored) -> FeatureScaler:
        """The scaler ``to_dict`` wrote; anything else raises ``ValueError``."""
        if not isinstance(stored, dict) or stored.get("format") != _FORMAT_VERSION:
            raise ValueError(f"not a stored feature scaler of format {_FORMAT_VERSION}")
        entries = stored.get("columns")
        if not isinstance(entries, list):
            raise ValueError("a stored feature scaler has no list of columns")
        columns = []
        for entry in entries:
            try:
                column = FeatureColumn(**entry)
            except TypeError as error:
                raise ValueError(f"a stored feature column is malformed: {error}") from None
            numbers = (column.center, column.scale, column.weight)
            if not (isinstance(column.name, str) and isinstance(column.source, str)
                    and (column.level is None or isinstance(column.level, str))
                    and all(isinstance(number, (int, float)) and not isinstance(number, bool)
                            and math.isfinite(number) for number in numbers)
                    and column.scale > 0 and column.weight > 0):
                raise ValueError(f"a stored feature column is malformed: {entry!r}")
            columns.append(column)
        if not columns:
            raise ValueError("a stored feature scaler has no columns")
        return cls(columns)

    def __eq__(self, other) -> bool:
        return isinstance(other, FeatureScaler) and self.columns == other.columns

    __hash__ = None


@dataclass(frozen=True, eq=False)
class Prepared:
    """A table made ready for the map.

    data: float64 (n_kept, d), scaled and weighted, NaN where a feature is missing.
    rows: int64 indices into ``table.frame`` of the kept rows (a row with no feature
        observed is dropped).
    labels: int32 (n_kept,) codes into ``label_names`` (-1 where the label is missing),
        None without a label column.
    identifiers: the identifier column's values (object, n_kept) as text, or None.
    roles: every column's role, as used.
    summary: what was done to the data, in one sentence.
    """

    data: np.ndarray
    feature_names: list[str]
    scaler: FeatureScaler
    rows: np.ndarray
    labels: np.ndarray | None
    label_names: list[str]
    label_column: str | None
    identifiers: np.ndarray | None
    identifier_column: str | None
    roles: dict[str, str]
    summary: str


def default_roles(table: Table) -> dict[str, str]:
    """Numeric columns are features, the first categorical column the label, the first
    identifier column the identifier; every other column is ignored."""
    roles: dict[str, str] = {}
    for name, kind in table.kinds.items():
        role = IGNORED
        if kind == NUMERIC:
            role = FEATURE
        elif kind == CATEGORICAL and LABEL not in roles.values():
            role = LABEL
        elif kind == IDENTIFIER and IDENTIFIER_ROLE not in roles.values():
            role = IDENTIFIER_ROLE
        roles[name] = role
    return roles


def prepare_table(table: Table, roles: dict[str, str] | None = None, scaling: str = "zscore",
                  weights: dict[str, float] | None = None) -> Prepared:
    """The map's input from ``table`` (see the module's docstring); ``TableError`` says why not.

    ``roles`` names the roles to change: the other columns keep ``default_roles``' choice,
    but for a default label or identifier whose role a named column takes.
    """
    roles = _checked_roles(table, roles)
    weights = _checked_weights(table, weights or {})
    if scaling not in SCALINGS:
        raise TableError(f"unknown scaling {scaling!r}; choose one of: {', '.join(SCALINGS)}")
    frame = table.frame
    columns: list[FeatureColumn] = []
    ignored: dict[str, list[str]] = {}
    for name, kind in table.kinds.items():
        if kind == CONSTANT:
            ignored.setdefault("constant", []).append(name)
        if roles[name] != FEATURE:
            continue
        if kind == NUMERIC:
            column = _numeric_column(name, frame[name], scaling, weights.get(name, 1.0))
            if column is None:
                ignored.setdefault("constant", []).append(name)
                roles[name] = IGNORED
            else:
                columns.append(column)
        else:
            columns.extend(_dummies(name, frame[name], weights.get(name, 1.0)))
    if not columns:
        raise TableError(f"{table.source_name}: no usable feature column; make a numeric or categorical column "
                         "a feature")
    scaler = FeatureScaler(columns)
    data = scaler.transform(frame)
    observed = ~np.isnan(data)
    kept = observed.any(axis=1)
    rows = np.flatnonzero(kept).astype(np.int64)
    if len(rows) < 2:
        raise TableError(f"{table.source_name}: fewer than 2 rows have a feature observed")
    data = np.ascontiguousarray(data[kept])
    label_column = next((name for name, role in roles.items() if role == LABEL), None)
    labels, label_names = _labels(frame[label_column].iloc[rows]) if label_column else (None, [])
    identifier_column = next((name for name, role in roles.items() if role == IDENTIFIER_ROLE), None)
    identifiers = None
    if identifier_column is not None:
        identifiers = frame[identifier_column].iloc[rows].astype(str).to_numpy(dtype=object)
    summary = _summary(len(frame), columns, int((~kept).sum()), int((~observed[kept]).any(axis=1).sum()),
                       ignored)
    return Prepared(data, scaler.feature_names, scaler, rows, labels, label_names, label_column, identifiers,
                    identifier_column, roles, summary)


def _checked_roles(table: Table, roles: dict | None) -> dict[str, str]:
    if roles is None:
        return default_roles(table)
    unknown = [name for name in roles if name not in table.kinds]
    if unknown:
        raise TableError(f"no column named {unknown[0]!r} in the table")
    # A column not named keeps its default role, unless a named column takes that role over.
    defaults = default_roles(table)
    taken = {role for role in roles.values() if role in (LABEL, IDENTIFIER_ROLE)}
    checked = {name: roles[name] if name in roles else IGNORED if defaults[name] in taken else defaults[name]
               for name in table.kinds}
    for name, role in checked.items():
        if role not in ROLES:
            raise TableError(f"unknown role {role!r} for column {name!r}; choose one of: {', '.join(ROLES)}")
        kind = table.kinds[name]
        if role == FEATURE and kind not in (NUMERIC, CATEGORICAL):
            raise TableError(f"column {name!r} is {kind}: only numeric and categorical columns can be features")
        if role == LABEL and kind in (CONSTANT, TEXT) or role == IDENTIFIER_ROLE and kind == CONSTANT:
            raise TableError(f"column {name!r} is {kind}: it cannot be the {role}")
        if role == LABEL and kind == NUMERIC and table.frame[name].nunique() > MAX_LABEL_LEVELS:
            raise TableError(f"column {name!r} has {table.frame[name].nunique():,} distinct numbers: a label "
                             f"has at most {MAX_LABEL_LEVELS}")
    for role in (LABEL, IDENTIFIER_ROLE):
        chosen = [name for name, given in checked.items() if given == role]
        if len(chosen) > 1:
            raise TableError(f"only one column can be the {role}: {', '.join(chosen)} are")
    return checked


def _checked_weights(table: Table, weights: dict) -> dict[str, float]:
    for name, weight in weights.items():
        if name not in table.kinds:
            raise TableError(f"no column named {name!r} in the table")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (math.isfinite(weight)
                                                                                    and weight > 0):
            raise TableError(f"the weight of column {name!r} must be a number above 0, got {weight!r}")
    return {name: float(weight) for name, weight in weights.items()}


def _numeric_column(name: str, values: pd.Series, scaling: str, weight: float) -> FeatureColumn | None:
    """The scaled column, or None where the observed values do not vary."""
    observed = values.dropna().to_numpy(dtype=np.float64)
    if len(observed) < 2 or observed.min() == observed.max():
        return None
    if scaling == "none":
        center, scale = 0.0, 1.0
    elif scaling == "zscore":
        center, scale = observed.mean(), observed.std(ddof=1)
    elif scaling == "minmax":
        center, scale = observed.min(), observed.max() - observed.min()
    else:
        low, center, high = np.percentile(observed, [25, 50, 75])
        # Most values alike (an IQR of 0): the spread of all of them, so the rest still count.
        scale = high - low if high > low else observed.std(ddof=1)
    return FeatureColumn(name, name, None, float(center), float(scale), weight)


def _dummies(name: str, values: pd.Series, weight: float) -> list[FeatureColumn]:
    present = values.dropna().astype(str)
    shares = present.value_counts(normalize=True).sort_index()
    if len(shares) > MAX_ONE_HOT_LEVELS:
        raise TableError(f"column {name!r} has {len(shares):,} levels: a one-hot feature has at most "
                         f"{MAX_ONE_HOT_LEVELS}; make it the label or ignore it")
    return [FeatureColumn(f"{name}={level}", name, str(level), 0.0, math.sqrt(share), weight)
            for level, share in shares.items()]


def _labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    present = values.dropna()
    levels = sorted(present.unique().tolist(), key=lambda level: (not isinstance(level, (int, float)), level))
    names = [f"{level:g}" if isinstance(level, float) else str(level) for level in levels]
    codes = pd.Categorical(values, categories=levels).codes.astype(np.int32)
    return codes, names


def _summary(rows: int, columns: list[FeatureColumn], dropped: int, with_gaps: int,
             ignored: dict[str, list[str]]) -> str:
    numeric = sum(column.level is None for column in columns)
    one_hot: dict[str, int] = {}
    for column in columns:
        if column.level is not None:
            one_hot[column.source] = one_hot.get(column.source, 0) + 1
    parts = [f"{numeric} numeric"] if numeric else []
    parts += [f"{count} one-hot from {source}" for source, count in one_hot.items()]
    sentence = [f"{_count(rows, 'row')}, {_count(len(columns), 'feature')} ({', '.join(parts)})"]
    if dropped:
        sentence.append(f"{_count(dropped, 'row')} dropped (no feature observed)")
    if with_gaps:
        sentence.append(f"{_count(with_gaps, 'row')} with a missing value")
    for reason, names in ignored.items():
        listed = ", ".join(f"`{name}`" for name in names[:_LISTED_COLUMNS])
        more = f" and {len(names) - _LISTED_COLUMNS} more" if len(names) > _LISTED_COLUMNS else ""
        sentence.append(f"{'column' if len(names) == 1 else 'columns'} {listed}{more} ignored ({reason})")
    return ", ".join(sentence)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def load_builtin_table(name: str) -> Table:
    """One of ``BUILTIN_TABLES`` from scikit-learn (which ships them, no network), its
    target a categorical column of class names (``species``, ``cultivar``, ``diagnosis``,
    ``digit``); the digits' 64 pixels are ``pixel_<row>_<column>``."""
    if name not in BUILTIN_TABLES:
        raise ValueError(f"unknown built-in table {name!r}; choose one of: {', '.join(BUILTIN_TABLES)}")
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=name != "digits")
    if name == "digits":
        frame = pd.DataFrame(bunch.data, columns=[f"pixel_{row}_{column}" for row in range(8) for column in range(8)])
    else:
        frame = bunch.data.copy()
    target = {"iris": "species", "wine": "cultivar", "breast_cancer": "diagnosis", "digits": "digit"}[name]
    frame[target] = np.asarray(bunch.target_names)[np.asarray(bunch.target)].astype(str)
    table = table_from_frame(frame, name)
    # The digits' class names are numbers, and still classes.
    return dataclasses.replace(table, frame=table.frame.assign(**{target: frame[target]}),
                               kinds={**table.kinds, target: CATEGORICAL})


def save_model(path, som: SOM, scaler: FeatureScaler, roles: dict[str, str]) -> None:
    """The map, its feature scaler and the table's column roles in one ``.npz`` (JSON and
    arrays, no pickle)."""
    if list(scaler.feature_names) != [str(name) for name in getattr(som, "feature_names_in_", scaler.feature_names)]:
        raise ValueError("the map was trained on other features than the scaler makes")
    som.save(path, metadata={"scaler": scaler.to_dict(), "roles": dict(roles)})


def load_model(path) -> tuple[SOM, FeatureScaler, dict[str, str]]:
    """What ``save_model`` wrote; anything else raises ``ValueError``."""
    som = SOM.load(path)
    metadata = getattr(som, "metadata_", None) or {}
    roles = metadata.get("roles")
    if not (isinstance(roles, dict) and all(isinstance(key, str) and value in ROLES for key, value in roles.items())):
        raise ValueError(f"{path} holds no table roles: was it written by save_model?")
    scaler = FeatureScaler.from_dict(metadata.get("scaler"))
    names = [column.name for column in scaler.columns]
    if len(names) != som.n_features_in_:
        raise ValueError(f"{path}: the scaler makes {len(names)} features, the map has {som.n_features_in_}")
    if hasattr(som, "feature_names_in_") and names != som.feature_names_in_.tolist():
        raise ValueError(f"{path}: the scaler's features are not the map's")
    return som, scaler, roles

