"""seqlstm's first read of a long Parquet/CSV table into its series store, in memory or
streamed out of core into a fresh cache (``--mode``), with the peak resident set it took.

"read s" times ``read_store`` (with a ``cache_dir`` both ways: the in-memory read then saves
the store there, as a first run with ``data.cache_dir`` does); "store MiB" is what the store's
arrays hold (values, time, offsets, rows), the table's size in memory once read; "later read s"
maps the cache back, as every later run does."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from common import emit, parser
from fc_scale_common import peak_rss_mib


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--table", required=True)
    p.add_argument("--mode", choices=["memory", "streamed"], required=True)
    p.add_argument("--cache-dir", required=True, help="emptied first: a first read")
    args = p.parse_args()
    from seqlstm.data.series.reading import TableSchema, read_store

    shutil.rmtree(args.cache_dir, ignore_errors=True)
    schema = TableSchema.from_config(["y"], [], [], "ds", "unique_id")
    import_rss = peak_rss_mib()
    start, cpu = time.perf_counter(), time.process_time()
    store = read_store(args.table, schema, cache_dir=args.cache_dir,
                       out_of_core=args.mode == "streamed")
    read_s, read_cpu_s, peak = time.perf_counter() - start, time.process_time() - cpu, \
        peak_rss_mib()
    arrays = [store.values, store.time, store.offsets,
              *([] if store.rows is None else [store.rows])]
    del store
    again = time.perf_counter()
    store = read_store(args.table, schema, cache_dir=args.cache_dir, out_of_core=False)
    emit({"read_s": read_s, "read_cpu_s": read_cpu_s, "peak_rss_mb": peak,
          "import_rss_mb": import_rss, "later_read_s": time.perf_counter() - again,
          "store_mb": sum(a.nbytes for a in arrays) / 2**20, "series": store.num_series,
          "rows": int(store.offsets[-1]), "grouped": store.rows is None,
          "cache_mb": sum(f.stat().st_size for f in Path(args.cache_dir).rglob("*"))
          / 2**20})
    shutil.rmtree(args.cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
