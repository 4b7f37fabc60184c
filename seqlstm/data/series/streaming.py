"""The out-of-core first read of a long table: a CSV or Parquet file streamed in chunks of rows
straight into the ``.npy`` files of the store's cache, so that the first read holds one chunk
and a few arrays per series in memory, never the whole table.

Two passes over the file (a counting sort: no sort of the whole table)::

    pass 1   the id column alone: each chunk's ids factorised onto the names so far (in order
             of first appearance), the codes kept in a scratch file, rows counted per series:
             the offsets. The table is grouped when the codes never decrease.
    pass 2   every other column, chunk by chunk, converted and checked as the in-memory read
             does; each row goes to its series' next free row plus its rank among the chunk's
             rows of that series (stable: every series keeps file order), through buckets of
             consecutive store rows (see :func:`_scatter`); grouped: a straight copy.
    checks   times in order (block by block), static covariates constant within a series.

The outputs are shared memory maps of the ``.npy`` files whose pages go back to the kernel
after every chunk (``MADV_DONTNEED``: written pages stay in the page cache, not in this
process's resident set). The store is built in a scratch folder beside its cache entry and
renamed into place after its index is written: a failed read leaves nothing in the cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqlstm.data.series.scratch import Buckets, SharedMap
from seqlstm.data.series.statics import StaticColumns, missing_static, static_varies
from seqlstm.data.series.store import SeriesStore, check_sorted, save_store
from seqlstm.data.series.tables import Source, readable, to_codes, to_float, to_time
from seqlstm.errors import ConfigError, DataError
from seqlstm.files import fsync_folder

if TYPE_CHECKING:
    from seqlstm.data.series.reading import TableSchema

#: ``out_of_core="auto"`` streams the first read of files at least this large (on disk)
AUTO_BYTES = 64 * 2**20
#: rows per chunk of the streamed read
CHUNK_ROWS = 1 << 18
SUFFIXES = (".csv", ".parquet", ".pq")


def streams(path: Any, layout: str, cache_dir: Any, out_of_core: bool | str) -> bool:
    """Whether the first read of ``path`` is streamed (``data.out_of_core``, checked)."""
    if not isinstance(out_of_core, bool) and out_of_core != "auto":
        raise ConfigError("data.out_of_core", "true, false or auto", out_of_core)
    if out_of_core is False:
        return False
    streamable = isinstance(path, (str, Path)) and layout == "long" and \
        Path(path).suffix.lower() in SUFFIXES
    if out_of_core is True:
        if not streamable:
            raise ConfigError("data.out_of_core", "false or auto for a wide table, a DataFrame "
                              "or a .npy/.npz file (these are read in memory)", out_of_core)
        if cache_dir is None:
            raise ConfigError("data.cache_dir", "a folder for the memory-mapped store "
                              "(data.out_of_core=true)", cache_dir)
        return True
    return streamable and cache_dir is not None and Path(path).is_file() and \
        Path(path).stat().st_size >= AUTO_BYTES


def stream_store(file: Path, schema: TableSchema, folder: Path,
                 chunk_rows: int = CHUNK_ROWS) -> None:
    """Write the checked store of the long table ``file`` into the cache ``folder`` (what
    :func:`~seqlstm.data.series.store.save_store` writes), reading ``chunk_rows`` at a time."""
    source = Source(str(file), is_csv=file.suffix.lower() == ".csv")
    scratch = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    maps: dict[str, SharedMap] = {}
    try:
        with readable(file):
            names, counts, grouped = _count(file, schema, source, scratch / "codes", chunk_rows)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            maps["codes"] = SharedMap(scratch / "codes", np.int64, (int(offsets[-1]),), write=False)
            statics = _scatter(file, schema, source, offsets, grouped, maps, scratch,
                               chunk_rows)
        _finish(SeriesStore(names, offsets, np.empty(0), np.empty(0), source), schema, maps,
                statics, scratch, chunk_rows)
        shutil.rmtree(folder, ignore_errors=True)  # an entry without an index is incomplete
        os.replace(scratch, folder)
        fsync_folder(folder.parent)
    finally:
        for m in maps.values():
            m.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _finish(store: SeriesStore, schema: TableSchema, maps: dict[str, SharedMap],
            statics: _Statics, scratch: Path, chunk_rows: int) -> None:
    """Check the scattered store, close its files and write the index."""
    store.values = maps["values"].array
    store.rows = maps["rows"].array if "rows" in maps else None
    if schema.time_column is None:
        maps["time"] = SharedMap.npy(scratch / "time.npy", np.int64, store.values.shape[:1])
        _write_positions(maps["time"], store.offsets, chunk_rows)
    store.time = maps["time"].array
    if schema.time_column is not None:
        check_sorted(store, schema.time_column, chunk_rows, maps["time"].release)
    store.statics = statics.result(store)
    store.values = store.time = np.empty(0)
    store.rows = None if store.rows is None else np.empty(0)
    for m in maps.values():
        m.close()
    (scratch / "codes").unlink()
    save_store(store, scratch, skip=("values", "time", "rows"))


def _chunks(file: Path, columns: list[str], text: list[str],
            chunk_rows: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(first row, {column: values})`` of every chunk of at most ``chunk_rows`` rows, in file
    order (CSV columns in ``text`` are read as text)."""
    import pyarrow as pa

    if file.suffix.lower() == ".csv":
        import pyarrow.csv as pcsv

        batches: Any = pcsv.open_csv(file, convert_options=pcsv.ConvertOptions(
            include_columns=columns, strings_can_be_null=True,
            column_types={c: pa.string() for c in text}))
    else:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(file)  # one row group at a time: one reader over all of
        batches = (batch for group in range(parquet.num_row_groups)  # them keeps their buffers
                   for batch in parquet.iter_batches(chunk_rows, [group], columns))
    start = 0
    for batch in batches:
        for a in range(0, batch.num_rows, chunk_rows):
            piece = batch.slice(a, chunk_rows)
            yield start, {c: pa.chunked_array([piece.column(c)]) for c in columns}
            start += piece.num_rows


def _count(file: Path, schema: TableSchema, source: Source, scratch: Path,
           chunk_rows: int) -> tuple[list[str], np.ndarray, bool]:
    """Pass 1: the series names (first appearance), rows per series, and whether the table
    is grouped; every row's series code goes to ``scratch``."""
    ids = schema.id_column
    known: dict[str, int] = {}
    counts, grouped, last = np.zeros(0, np.int64), True, 0
    with open(scratch, "wb") as out:
        for start, chunk in _chunks(file, [ids or schema.targets[0]], [ids] if ids else [],
                                    chunk_rows):
            if ids is None:
                codes, known = np.zeros(len(chunk[schema.targets[0]]), np.int64), {"0": 0}
            else:
                local, names = to_codes(chunk[ids], source, ids, start=start)
                codes = _global(local, names, known)
            grouped = grouped and codes[0] >= last and not (codes[1:] < codes[:-1]).any()
            last = codes[-1]
            counts = np.pad(counts, (0, len(known) - len(counts)))
            counts += np.bincount(codes, minlength=len(known))
            out.write(codes.tobytes())
    if not len(counts):
        raise DataError(f"{source.name}: the table has no rows")
    return list(known), counts, grouped


def _global(local: np.ndarray, names: list[str], known: dict[str, int]) -> np.ndarray:
    """A chunk's codes ``local`` into ``names`` as codes into ``known`` (new names appended)."""
    lookup = np.fromiter((known.setdefault(n, len(known)) for n in names), np.int64, len(names))
    return lookup[local]


def _scatter(file: Path, schema: TableSchema, source: Source, offsets: np.ndarray,
             grouped: bool, maps: dict[str, SharedMap], scratch: Path, chunk_rows: int) -> _Statics:
    """Pass 2: every value, time and source row into its place in ``maps`` (new ``.npy``
    files in ``scratch``); the static covariates are gathered on the way.

    A table that is not grouped goes through buckets first: bucket ``b`` holds the rows bound
    for store rows ``b * chunk_rows`` to ``(b + 1) * chunk_rows``, so a chunk writes one run per
    bucket, and each bucket then fills one stretch of the store (not one page per row: the
    rows of one time step of many series lie a series apart)."""
    rows, time = int(offsets[-1]), schema.time_column
    maps["values"] = SharedMap.npy(scratch / "values.npy", np.float64, (rows, len(schema.columns)))
    if not grouped:
        maps["rows"] = SharedMap.npy(scratch / "rows.npy", np.int64, (rows,))
    buckets = Buckets(scratch)
    cursor = offsets[:-1].copy()  # (S,) each series' next free store row
    filled = np.arange(0, rows, chunk_rows)  # (B,) each bucket's next free slot
    statics = _Statics(schema, len(offsets) - 1)
    text = [*([time] if time and schema.time_format else []), *schema.static_categorical]
    read = [*schema.columns, *([time] if time else []), *schema.static_categorical,
            *schema.static_real]
    for start, chunk in _chunks(file, read, text, chunk_rows):
        n = len(chunk[read[0]])
        codes = np.array(maps["codes"].array[start: start + n])
        values = np.stack([to_float(chunk[c], source, c, start) for c in schema.columns], 1)
        columns = {"values": values}  # (n, C)
        if time is not None:
            columns["time"] = to_time(chunk[time], source, time, schema.time_format, start)
            if "time" not in maps:
                maps["time"] = SharedMap.npy(scratch / "time.npy", columns["time"].dtype, (rows,))
            _same_kind(maps["time"].array.dtype, columns["time"], source, time, start)
        if grouped:
            places = np.arange(start, start + n)
            for name, data in columns.items():
                maps[name].array[start: start + n] = data
        else:
            places = _places(codes, cursor)
            buckets.add(_places(places // chunk_rows, filled),
                        {**columns, "rows": np.arange(start + 1, start + n + 1),
                         "places": places})
        statics.add(chunk, source, codes, places, start)
        for m in maps.values():
            m.release()
    for a in range(0, rows if not grouped else 0, chunk_rows):  # each bucket to its stretch
        part = buckets.read(a, min(a + chunk_rows, rows))
        for name in ("values", "time", "rows"):
            if name in part:
                maps[name].array[part["places"]] = part[name]
        for m in maps.values():
            m.release()
    buckets.remove()
    return statics


def _places(codes: np.ndarray, cursor: np.ndarray) -> np.ndarray:
    """``(n,)`` the store row of each of a chunk's rows: its series' next free row plus its
    rank among the chunk's rows of that series (file order kept); ``cursor`` moves on."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    lengths = np.diff(np.append(starts, len(codes)))
    places = np.empty(len(codes), np.int64)
    places[order] = cursor[ordered] + np.arange(len(codes)) - np.repeat(starts, lengths)
    cursor[ordered[starts]] += lengths
    return places


def _same_kind(dtype: np.dtype, times: np.ndarray, source: Source, column: str,
               start: int) -> None:
    if times.dtype != dtype and not (times.dtype.kind in "iu" and dtype.kind == "f"):
        raise DataError(f"{source.name}: {source.row(start + 1)}, column '{column}': times "
                        f"read as {times.dtype} after {dtype} in the rows before; give "
                        "data.time_format, or read the table with data.out_of_core=false")


def _write_positions(out: SharedMap, offsets: np.ndarray, chunk_rows: int) -> None:
    """Each row's position in its series (the time of a table without a time column)."""
    for a in range(0, len(out.array), chunk_rows):
        index = np.arange(a, min(a + chunk_rows, len(out.array)))
        out.array[index] = index - offsets[np.searchsorted(offsets, index, side="right") - 1]
        out.release()


class _Statics:
    """The static covariates, gathered chunk by chunk: each series' first value (file order)
    and the earliest store row of each column where a value differs or is missing."""

    def __init__(self, schema: TableSchema, num_series: int) -> None:
        self.categorical, self.real = list(schema.static_categorical), list(schema.static_real)
        self.known: list[dict[str, int]] = [{} for _ in self.categorical]
        self.first = {c: np.zeros(num_series, np.int64) for c in self.categorical}
        self.first.update({c: np.zeros(num_series) for c in self.real})
        self.seen = {c: np.zeros(num_series, bool) for c in self.first}
        self.bad: dict[tuple[str, str], tuple[int, Any]] = {}  # (kind, column) -> (row, value)

    def add(self, chunk: dict[str, Any], source: Source, codes: np.ndarray,
            places: np.ndarray, start: int) -> None:
        for k, column in enumerate(self.categorical):
            local, names = to_codes(chunk[column], source, column, "the static covariate",
                                    start)
            self._constant(column, _global(local, names, self.known[k]), codes, places)
        for column in self.real:
            values = to_float(chunk[column], source, column, start)
            missing = np.isnan(values)
            self._earliest("missing", column, places[missing], values[missing])
            self._constant(column, values, codes, places)

    def _constant(self, column: str, values: np.ndarray, codes: np.ndarray,
                  places: np.ndarray) -> None:
        series, first = np.unique(codes, return_index=True)
        new = ~self.seen[column][series]
        self.first[column][series[new]] = values[first[new]]
        self.seen[column][series[new]] = True
        varies = values != self.first[column][codes]
        self._earliest("varies", column, places[varies], values[varies])

    def _earliest(self, kind: str, column: str, places: np.ndarray, values: np.ndarray) -> None:
        if len(places):
            i = int(np.argmin(places))
            if (kind, column) not in self.bad or places[i] < self.bad[kind, column][0]:
                self.bad[kind, column] = int(places[i]), values[i]

    def result(self, store: SeriesStore) -> StaticColumns | None:
        """The static columns, or the error the in-memory read raises first."""
        if not self.first:
            return None
        categories = [list(known) for known in self.known]
        for k, column in enumerate(self.categorical):
            if ("varies", column) in self.bad:
                i, code = self.bad["varies", column]
                first = self.first[column][store.series_of(i)]
                raise static_varies(store, column, i, repr(categories[k][code]),
                                    repr(categories[k][first]))
        for column in self.real:
            if ("missing", column) in self.bad:
                raise missing_static(store, column, self.bad["missing", column][0])
            if ("varies", column) in self.bad:
                i, value = self.bad["varies", column]
                raise static_varies(store, column, i, f"{value:g}",
                                    f"{self.first[column][store.series_of(i)]:g}")
        return StaticColumns(self.categorical, self.real, categories,
                             np.stack([self.first[c] for c in self.categorical], axis=1)
                             if self.categorical else np.zeros((store.num_series, 0), np.int64),
                             np.stack([self.first[c] for c in self.real], axis=1)
                             if self.real else np.zeros((store.num_series, 0)))
