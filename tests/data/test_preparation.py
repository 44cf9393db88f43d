"""prepare_table and its kin: roles, scalings, one-hot, weights, summaries, built-in tables and saved models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from zsom_core import SOM
from zsom_core.preparation import (
    BUILTIN_TABLES,
    FEATURE,
    IDENTIFIER_ROLE,
    IGNORED,
    LABEL,
    FeatureScaler,
    default_roles,
    load_builtin_table,
    load_model,
    prepare_table,
    save_model,
)
from zsom_core.tables import CATEGORICAL, CONSTANT, IDENTIFIER, TableError, load_table, table_from_frame

# The shared test data lives next to the repository: <repo>/../shared/testdata/tables.
TABLE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "tables"
MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
PENGUIN_NUMBERS = [*MEASUREMENTS, "year"]


@pytest.fixture(scope="session")
def read_table():
    """read_table("penguins.csv") -> (the loaded Table, the file as pandas reads it on its own)."""
    if not TABLE_DIR.is_dir():
        pytest.skip(f"shared table test data not found at {TABLE_DIR.resolve()}")

    def read(name: str):
        path = TABLE_DIR / name
        return load_table(path.read_bytes(), name), pd.read_csv(path)

    return read


def small_table(**columns):
    return table_from_frame(pd.DataFrame(columns), "small")


# ---------------------------------------------------------------------------- roles


def test_penguins_default_roles_follow_the_documented_rule(read_table):
    table, raw = read_table("penguins.csv")
    roles = default_roles(table)

    assert list(roles) == list(raw.columns)
    assert {name for name, role in roles.items() if role == FEATURE} == set(raw.select_dtypes("number").columns)
    # The first categorical column is the label, the other categorical ones are ignored.
    assert roles["species"] == LABEL and roles["island"] == roles["sex"] == IGNORED
    assert list(roles.values()).count(LABEL) == 1


def test_roles_given_change_only_the_columns_they_name(read_table):
    table, _ = read_table("penguins.csv")
    defaults = default_roles(table)
    assert prepare_table(table, roles={"island": FEATURE}).roles == {**defaults, "island": FEATURE}
    # A new label takes the role over from the default one.
    assert prepare_table(table, roles={"sex": LABEL}).roles == {**defaults, "sex": LABEL, "species": IGNORED}
    with pytest.raises(TableError, match="only one column can be the label"):
        prepare_table(table, roles={"sex": LABEL, "species": LABEL})


def test_a_unique_text_column_is_the_identifier(read_table):
    table, raw = read_table("car_crashes.csv")
    assert table.kinds["abbrev"] == IDENTIFIER
    roles = default_roles(table)
    assert roles["abbrev"] == IDENTIFIER_ROLE
    assert all(role == FEATURE for name, role in roles.items() if name != "abbrev")

    prepared = prepare_table(table)
    assert prepared.identifier_column == "abbrev" and prepared.label_column is None and prepared.labels is None
    assert prepared.identifiers.tolist() == raw["abbrev"].tolist()
    assert prepared.feature_names == [name for name in raw.columns if name != "abbrev"]


def test_penguin_labels_are_codes_into_sorted_species(read_table):
    table, raw = read_table("penguins.csv")
    prepared = prepare_table(table)

    assert prepared.label_column == "species"
    assert prepared.label_names == sorted(raw["species"].unique())
    names = np.asarray(prepared.label_names)[prepared.labels]
    assert names.tolist() == raw["species"].iloc[prepared.rows].tolist()
    assert prepared.labels.dtype == np.int32


# ---------------------------------------------------------------------------- scalings


def expected_scaling(values: np.ndarray, scaling: str) -> np.ndarray:
    observed = values[~np.isnan(values)]
    if scaling == "none":
        return values
    if scaling == "zscore":
        return (values - observed.mean()) / observed.std(ddof=1)
    if scaling == "minmax":
        return (values - observed.min()) / (observed.max() - observed.min())
    q1, median, q3 = np.quantile(observed, [0.25, 0.5, 0.75])
    return (values - median) / (q3 - q1 if q3 > q1 else observed.std(ddof=1))


@pytest.mark.parametrize("scaling", ["zscore", "minmax", "robust", "none"])
def test_each_scaling_matches_numpy_on_the_observed_values(scaling, read_table):
    table, raw = read_table("penguins.csv")
    prepared = prepare_table(table, scaling=scaling)

    assert prepared.feature_names == PENGUIN_NUMBERS
    assert prepared.data.dtype == np.float64 and prepared.data.flags.c_contiguous
    kept = raw.iloc[prepared.rows]
    for position, name in enumerate(PENGUIN_NUMBERS):
        values = raw[name].to_numpy(dtype=np.float64)
        expected = expected_scaling(values, scaling)[prepared.rows]
        np.testing.assert_allclose(prepared.data[:, position], expected, rtol=1e-12, equal_nan=True)
        # A missing value stays missing, and nothing else is.
        assert np.isnan(prepared.data[:, position]).tolist() == kept[name].isna().tolist()


def test_robust_scaling_falls_back_to_the_standard_deviation_when_the_iqr_is_zero():
    values = np.array([5.0] * 10 + [1.0, 9.0, np.nan])
    observed = values[~np.isnan(values)]
    assert np.subtract(*np.percentile(observed, [75, 25])) == 0

    prepared = prepare_table(small_table(x=values, y=np.arange(13.0)), scaling="robust")
    expected = (values - np.median(observed)) / observed.std(ddof=1)
    np.testing.assert_allclose(prepared.data[:, 0], expected, equal_nan=True)


@pytest.mark.parametrize("scaling", ["zscore", "minmax", "robust", "none"])
def test_the_scaler_goes_back_to_the_tables_units(scaling, read_table):
    table, raw = read_table("penguins.csv")
    prepared = prepare_table(table, scaling=scaling)
    original = raw[PENGUIN_NUMBERS].iloc[prepared.rows].to_numpy(dtype=np.float64)

    np.testing.assert_allclose(prepared.scaler.inverse_transform(prepared.data), original, equal_nan=True)
    np.testing.assert_allclose(prepared.scaler.transform(raw.iloc[prepared.rows]), prepared.data, equal_nan=True)
    frame = prepared.scaler.original_frame(prepared.data)
    assert list(frame.columns) == PENGUIN_NUMBERS
    np.testing.assert_allclose(frame.to_numpy(), original, equal_nan=True)
    with pytest.raises(ValueError, match=r"shape \(m, 5\)"):
        prepared.scaler.inverse_transform(np.zeros((2, 4)))


def test_original_axes_project_to_three_features_in_the_tables_units(read_table):
    table, raw = read_table("penguins.csv")
    prepared = prepare_table(table, roles={"island": FEATURE}, weights={"body_mass_g": 2.0})
    names = ["body_mass_g", "bill_length_mm", "flipper_length_mm"]
    offset, axes = prepared.scaler.original_axes(names)
    projected = (np.nan_to_num(prepared.data) - offset) @ axes.T
    original = raw[names].iloc[prepared.rows].to_numpy(dtype=np.float64)
    observed = ~np.isnan(original)
    np.testing.assert_allclose(projected[observed], original[observed])
    with pytest.raises(ValueError, match="no feature named 'species'"):
        prepared.scaler.original_axes(["species"])


def test_a_scaler_survives_to_dict_and_json(read_table):
    table, _ = read_table("penguins.csv")
    scaler = prepare_table(table, roles={**default_roles(table), "sex": FEATURE}, weights={"year": 0.5}).scaler

    assert FeatureScaler.from_dict(scaler.to_dict()) == scaler
    restored = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored == scaler and restored.feature_names == scaler.feature_names
    assert restored != FeatureScaler(scaler.columns[:-1])


def stored_column(**changes) -> dict:
    return {"format": 1, "columns": [{"name": "x", "source": "x", "level": None, "center": 0.0, "scale": 1.0,
                                      "weight": 1.0, **changes}]}


@pytest.mark.parametrize("stored", [
    None, [], {"format": 2, "columns": []}, {"format": 1, "columns": []}, {"format": 1, "columns": [{"name": "x"}]},
    stored_column(scale=0.0), stored_column(center="0"), stored_column(center=float("nan")), stored_column(level=3),
    {"format": 1, "columns": ["not a column"]}, {"format": 1, "columns": 5}, stored_column(weight=True),
])
def test_anything_but_a_stored_scaler_raises_value_error(stored):
    with pytest.raises(ValueError):
        FeatureScaler.from_dict(stored)


# ---------------------------------------------------------------------------- one-hot and weights


def test_a_categorical_feature_becomes_dummies_scaled_by_the_root_of_their_share(read_table):
    table, raw = read_table("penguins.csv")
    roles = {**default_roles(table), "sex": FEATURE, "island": FEATURE}
    prepared = prepare_table(table, roles=roles)
    kept = raw.iloc[prepared.rows]

    for column in ("island", "sex"):
        levels = sorted(raw[column].dropna().unique())
        names = [f"{column}={level}" for level in levels]
        assert [name for name in prepared.feature_names if name.startswith(f"{column}=")] == names
        shares = raw[column].value_counts(normalize=True)  # over the rows where the column is present
        for level, name in zip(levels, names):
            expected = np.where(kept[column].isna(), np.nan, (kept[column] == level) / np.sqrt(shares[level]))
            got = prepared.data[:, prepared.feature_names.index(name)]
            np.testing.assert_allclose(got, expected, equal_nan=True)
            # aweSOM's scaling: each dummy has unit mean square over the rows where it is observed.
            assert np.nanmean(got**2) == pytest.approx(1.0)
        assert f"{len(levels)} one-hot from {column}" in prepared.summary

    dummy = prepared.feature_names.index("sex=female")
    shares_back = prepared.scaler.inverse_transform(prepared.data)[:, dummy]
    assert np.array_equal(shares_back, np.where(kept["sex"].isna(), np.nan, kept["sex"] == "female"), equal_nan=True)


def test_an_unseen_level_gives_all_zero_dummies():
    table = small_table(colour=["red", "blue"] * 6, x=np.arange(12.0))
    prepared = prepare_table(table, roles={"colour": FEATURE, "x": FEATURE})
    new = prepared.scaler.transform(pd.DataFrame({"colour": ["green"], "x": [0.0]}))
    assert prepared.feature_names == ["colour=blue", "colour=red", "x"]
    assert new[0, :2].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("weight", [2, 0.25, 3.5])
def test_a_weight_multiplies_the_scaled_column(weight, read_table):
    table, _ = read_table("penguins.csv")
    roles = {**default_roles(table), "island": FEATURE}
    plain = prepare_table(table, roles=roles)
    weighted = prepare_table(table, roles=roles, weights={"body_mass_g": weight, "island": weight})

    for position, name in enumerate(plain.feature_names):
        factor = weight if name == "body_mass_g" or name.startswith("island=") else 1.0
        np.testing.assert_allclose(weighted.data[:, position], plain.data[:, position] * factor, equal_nan=True)
    np.testing.assert_allclose(weighted.scaler.inverse_transform(weighted.data),
                               plain.scaler.inverse_transform(plain.data), equal_nan=True)


@pytest.mark.parametrize("weight", [0, -1.5, float("nan"), float("inf"), True, "2"])
def test_a_weight_that_is_no_positive_number_is_refused(weight, read_table):
    table, _ = read_table("penguins.csv")
    with pytest.raises(ValueError, match=r"the weight of column 'body_mass_g' must be a number above 0, got "):
        prepare_table(table, weights={"body_mass_g": weight})


# ---------------------------------------------------------------------------- rows, columns and the summary


def test_the_penguins_summary_counts_rows_features_and_gaps(read_table):
    table, raw = read_table("penguins.csv")
    prepared = prepare_table(table)

    numbers = raw.select_dtypes("number")
    kept = numbers.notna().any(axis=1)
    gaps = int(numbers[kept].isna().any(axis=1).sum())
    assert gaps == 2 and kept.all()
    assert prepared.summary == f"{len(raw)} rows, {numbers.shape[1]} features ({numbers.shape[1]} numeric), " \
                               f"{gaps} rows with a missing value"
    assert prepared.roles == default_roles(table)


def test_rows_with_no_feature_observed_are_dropped_and_counted(read_table):
    table, raw = read_table("penguins.csv")
    prepared = prepare_table(table, roles={**default_roles(table), "year": IGNORED})

    observed = raw[MEASUREMENTS].notna().any(axis=1)
    assert prepared.rows.tolist() == np.flatnonzero(observed).tolist()
    assert prepared.data.shape == (int(observed.sum()), len(MEASUREMENTS))
    assert not np.isnan(prepared.data).any()
    assert prepared.summary == f"{len(raw)} rows, 4 features (4 numeric), {int((~observed).sum())} rows dropped " \
                               "(no feature observed)"


def test_constant_columns_are_ignored_and_said_so():
    table = small_table(x=np.arange(12.0), y=np.arange(12.0) ** 2, flat=np.full(12, 3.0), same=["a"] * 12)
    assert table.kinds["flat"] == table.kinds["same"] == CONSTANT

    prepared = prepare_table(table)
    assert prepared.feature_names == ["x", "y"]
    assert prepared.summary == "12 rows, 2 features (2 numeric), columns `flat`, `same` ignored (constant)"


def test_the_constant_pixels_of_the_digits_are_listed_and_counted():
    table = load_builtin_table("digits")
    pixels = datasets.load_digits().data
    constant = np.flatnonzero(pixels.min(axis=0) == pixels.max(axis=0))
    names = [f"`pixel_{index // 8}_{index % 8}`" for index in constant]

    more = f" and {len(names) - 3} more" if len(names) > 3 else ""  # the first three are named

    prepared = prepare_table(table)
    assert prepared.data.shape == (len(pixels), 64 - len(constant))
    assert prepared.summary.endswith(f"columns {', '.join(names[:3])}{more} ignored (constant)")


@pytest.mark.parametrize("columns", [
    {"group": ["a", "b"] * 6, "name": [f"row {i}" for i in range(12)]},
    {"flat": [1.0] * 12, "group": ["a", "b"] * 6},
])
def test_a_table_without_a_usable_feature_is_refused(columns):
    with pytest.raises(TableError, match="small: no usable feature column; make a numeric or categorical column"):
        prepare_table(small_table(**columns))


# ---------------------------------------------------------------------------- built-in tables


@pytest.mark.parametrize(("name", "label"), [("iris", "species"), ("wine", "cultivar"),
                                             ("breast_cancer", "diagnosis"), ("digits", "digit")])
def test_each_builtin_table_is_sklearns_with_a_label_column(name, label):
    assert name in BUILTIN_TABLES
    bunch = getattr(datasets, f"load_{name}")()
    table = load_builtin_table(name)

    assert table.frame.shape == (bunch.data.shape[0], bunch.data.shape[1] + 1)
    assert list(table.frame.columns) == [*bunch.feature_names, label]
    np.testing.assert_array_equal(table.frame[list(bunch.feature_names)].to_numpy(), bunch.data)
    assert table.kinds[label] == CATEGORICAL and default_roles(table)[label] == LABEL
    assert table.frame[label].tolist() == np.asarray(bunch.target_names)[bunch.target].astype(str).tolist()
    if name == "digits":
        assert sorted(table.frame[label].unique()) == [str(digit) for digit in range(10)]
        assert prepare_table(table).label_names == [str(digit) for digit in range(10)]


def test_an_unknown_builtin_table_is_refused():
    with pytest.raises(ValueError, match="unknown built-in table 'titanic'; choose one of: iris, wine"):
        load_builtin_table("titanic")


# ---------------------------------------------------------------------------- saved models


@pytest.fixture(scope="module")
def trained():
    table = load_builtin_table("iris")
    prepared = prepare_table(table, scaling="minmax", weights={"petal width (cm)": 2.0})
    som = SOM(3, 2, epochs=3, seed=0).fit(pd.DataFrame(prepared.data, columns=prepared.feature_names))
    return som, prepared


def test_a_saved_model_comes_back_equal(trained, tmp_path):
    som, prepared = trained
    save_model(tmp_path / "map.npz", som, prepared.scaler, prepared.roles)
    loaded, scaler, roles = load_model(tmp_path / "map.npz")

    np.testing.assert_array_equal(loaded.weights_, som.weights_)
    assert loaded.feature_names_in_.tolist() == prepared.feature_names == scaler.feature_names
    assert scaler == prepared.scaler and roles == prepared.roles
    assert (loaded.width, loaded.height) == (3, 2)


def test_a_scaler_for_other_features_is_not_saved(trained, tmp_path):
    som, prepared = trained
    with pytest.raises(ValueError, match="the map was trained on other features than the scaler makes"):
        save_model(tmp_path / "map.npz", som, FeatureScaler(prepared.scaler.columns[::-1]), prepared.roles)


def rewrite_config(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    config = json.loads(str(arrays["config"]))
    change(config["metadata"])
    arrays["config"] = np.array(json.dumps(config))
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


@pytest.mark.parametrize(("change", "message"), [
    (lambda metadata: metadata["roles"].update(species="boss"), "holds no table roles"),
    (lambda metadata: metadata.pop("roles"), "holds no table roles"),
    (lambda metadata: metadata["scaler"]["columns"][0].update(scale=-1.0), "a stored feature column is malformed"),
    (lambda metadata: metadata["scaler"]["columns"].pop(), "the scaler makes 3 features, the map has 4"),
    (lambda metadata: metadata["scaler"].update(format=7), "not a stored feature scaler"),
    (lambda metadata: metadata["scaler"].update(columns=5), "stored feature"),
    (lambda metadata: metadata["scaler"]["columns"][0].update(name="renamed"), "the scaler's features are not"),
])
def test_a_tampered_model_file_is_refused(change, message, trained, tmp_path):
    som, prepared = trained
    path = tmp_path / "map.npz"
    save_model(path, som, prepared.scaler, prepared.roles)
    rewrite_config(path, change)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_a_damaged_or_plain_map_file_is_refused(trained, tmp_path):
    som, prepared = trained
    path = tmp_path / "map.npz"
    save_model(path, som, prepared.scaler, prepared.roles)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="is not a saved ZSOM map"):
        load_model(path)
    som.save(path)  # a map without the table's metadata
    with pytest.raises(ValueError, match="holds no table roles: was it written by save_model"):
        load_model(path)
