"""Static covariates: one value per series (a store's region, a product's price class), read
from columns of a long table that must be constant within each series.

Categorical columns are factorised (their categories travel in ``spec.extra`` as plain lists,
so prediction maps new tables onto the training codes; a category never seen in training is
an error); real columns are standardised over the training series. Everything runs on whole
arrays: one comparison against each series' first row finds a value that varies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from seqlstm.data.series.tables import Columns, to_codes, to_float
from seqlstm.errors import DataError

if TYPE_CHECKING:
    from seqlstm.data.series.store import SeriesStore


@dataclass
class StaticColumns:
    """The static covariates of a store's series: ``codes`` ``(S, K_cat)`` into each
    categorical column's ``categories``, ``values`` ``(S, K_real)`` in original units."""

    categorical: list[str]
    real: list[str]
    categories: list[list[str]]
    codes: np.ndarray
    values: np.ndarray

    def as_index(self) -> dict[str, Any]:
        """The plain data of the cache index (the arrays go to ``.npy`` files)."""
        return {"categorical": self.categorical, "real": self.real,
                "categories": self.categories}


def read_statics(columns: Columns, store: SeriesStore, categorical: list[str],
                 real: list[str]) -> StaticColumns:
    """The static covariates of ``store`` from the (file-order) ``columns`` it was read from;
    a value that varies within a series, or is missing, names its file, series, row and
    column."""
    source, rows = columns.source, store.all_rows() - 1  # store row -> file row
    first = store.offsets[:-1]
    owner_first = np.repeat(first, store.lengths)  # (N,) each row's series' first row
    codes, categories = np.zeros((store.num_series, len(categorical)), np.int64), []
    for k, column in enumerate(categorical):
        raw, names = to_codes(columns.arrays.pop(column), source, column,
                              what="the static covariate")
        grouped = raw[rows]
        _check_constant(store, column, grouped != grouped[owner_first],
                        lambda i, g=grouped, n=names: repr(n[g[i]]))
        codes[:, k], categories = grouped[first], [*categories, names]
    values = np.zeros((store.num_series, len(real)))
    for k, column in enumerate(real):
        grouped = to_float(columns.arrays.pop(column), source, column)[rows]
        missing = np.isnan(grouped)
        if missing.any():
            raise missing_static(store, column, int(np.flatnonzero(missing)[0]))
        _check_constant(store, column, grouped != grouped[owner_first],
                        lambda i, g=grouped: f"{g[i]:g}")
        values[:, k] = grouped[first]
    return StaticColumns(list(categorical), list(real), categories, codes, values)


def _check_constant(store: SeriesStore, column: str, varies: np.ndarray, show: Any) -> None:
    if varies.any():
        i = int(np.flatnonzero(varies)[0])
        raise static_varies(store, column, i, show(i),
                            show(int(store.offsets[store.series_of(i)])))


def static_varies(store: SeriesStore, column: str, i: int, value: str,
                  first: str) -> DataError:
    """The error for store row ``i``, whose static ``value`` differs from its series' ``first``
    (both as shown in the message)."""
    start = int(store.offsets[store.series_of(i)])
    return DataError(f"{store.source.name}: {store.where(i)}, column '{column}': {value} "
                     f"differs from the series' first value {first} (row "
                     f"{store.source_row(start)}); a static covariate must be constant "
                     "within a series")


def missing_static(store: SeriesStore, column: str, i: int) -> DataError:
    """The error for store row ``i``, whose static covariate is missing."""
    return DataError(f"{store.source.name}: {store.where(i)}, column '{column}': the static "
                     "covariate is missing")


def fit_statics(statics: StaticColumns | None) -> dict[str, Any]:
    """The fitted state of the training table's static covariates (plain data for
    ``spec.extra``): each categorical column's categories, the real columns' mean and
    deviation over the series, and every series' codes and standardised values."""
    if statics is None:
        return {}
    mean, std = statics.values.mean(axis=0), statics.values.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return {"static_categorical": dict(zip(statics.categorical, statics.categories,
                                           strict=True)),
            "static_real": statics.real, "static_mean": mean.tolist(),
            "static_std": std.tolist(), "static_codes": statics.codes.tolist(),
            "static_values": ((statics.values - mean) / std).tolist()}


def static_inputs(statics: StaticColumns | None, store: SeriesStore,
                  fitted: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes (S, K_cat), values (S, K_real))`` of each series of ``store`` as the model
    reads them: codes of the training categories, values standardised as in training. A
    category the training data never had is an error naming the series and column."""
    known = fitted.get("static_categorical") or {}
    if statics is None or (not known and not fitted.get("static_real")):
        return None
    codes = np.zeros_like(statics.codes)
    for k, column in enumerate(statics.categorical):
        position = {name: j for j, name in enumerate(known[column])}
        lookup = np.array([position.get(name, -1) for name in statics.categories[k]])
        codes[:, k] = lookup[statics.codes[:, k]] if len(lookup) else -1
        if (codes[:, k] < 0).any():
            i = int(np.flatnonzero(codes[:, k] < 0)[0])
            raise DataError(f"{store.source.name}: {store.where(int(store.offsets[i]))}, column "
                            f"'{column}': category '{statics.categories[k][statics.codes[i, k]]}' "
                            f"was not in the training data (known: {known[column][:10]})")
    values = (statics.values - np.asarray(fitted["static_mean"])) / np.asarray(
        fitted["static_std"])
    return codes, values.astype(np.float32)
