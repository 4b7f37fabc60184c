"""seqlstm from a Parquet table of many series to its first training steps.

Times ``TimeSeriesDataModule.setup`` (read, check, group, fit scalers, index windows: "prep"),
then the wall time from the start to the first training batch and to the end of ``--steps``
steps of a small LSTM forecaster."""

from __future__ import annotations

import shutil

from common import emit, parser, set_torch_threads
from fc_scale_common import TIMES, as_callback, peak_rss_mib, prep_times, process_clock


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--table", required=True)
    p.add_argument("--lookback", type=int, default=24)
    p.add_argument("--horizon", type=int, default=12)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--out-of-core", action="store_true",
                   help="stream the first read into --cache-dir (emptied first)")
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args()
    if args.cache_dir:
        shutil.rmtree(args.cache_dir, ignore_errors=True)
    set_torch_threads(args.threads)
    import lightning as L

    from seqlstm.data import TimeSeriesDataModule
    from seqlstm.tasks import Forecaster

    import_rss = peak_rss_mib()
    start = process_clock()
    dm = TimeSeriesDataModule(args.table, targets=["y"], time_column="ds",
                              id_column="unique_id", lookback=args.lookback,
                              horizon=args.horizon, batch_size=256, split=[0.8, 0.1, 0.1],
                              cache_dir=args.cache_dir, out_of_core=args.out_of_core)
    dm.setup("fit")
    prep = prep_times(start)
    L.seed_everything(args.seed, verbose=False)
    model = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 32})
    clock = as_callback(L.Callback)
    trainer = L.Trainer(max_steps=args.steps, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", callbacks=[clock])
    trainer.fit(model, datamodule=dm)
    emit({"peak_rss_mb": peak_rss_mib(), **prep, "first_step_s": TIMES["first"] - start[0],
          "steps_s": TIMES["last"] - start[0], "import_rss_mb": import_rss,
          "series": len(dm.spec.extra["series"]),
          "train_windows": len(dm.windows["train"])})


if __name__ == "__main__":
    main()
