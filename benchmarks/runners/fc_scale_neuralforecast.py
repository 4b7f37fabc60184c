"""neuralforecast from a Parquet table of many series to its first training steps.

Reads the table with pandas, times ``TimeSeriesDataset.from_df`` on it (its dataset build:
"prep", the result then dropped), then the wall time from the start to the first training batch
and to the end of ``--steps`` steps of ``NeuralForecast.fit`` with a small LSTM (which builds the
dataset again inside ``fit``; the first-step time counts that build once, not the timed one)."""

from __future__ import annotations

import gc
import time

from common import emit, parser, set_torch_threads
from fc_scale_common import TIMES, as_callback, peak_rss_mib, prep_times, process_clock


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--table", required=True)
    p.add_argument("--lookback", type=int, default=24)
    p.add_argument("--horizon", type=int, default=12)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import neuralforecast
    import pandas as pd
    import pytorch_lightning as pl
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM
    from neuralforecast.tsdataset import TimeSeriesDataset

    import_rss = peak_rss_mib()
    start = process_clock()
    df = pd.read_parquet(args.table)
    read_s = time.perf_counter() - start[0]
    built = TimeSeriesDataset.from_df(df)
    prep = prep_times(start)
    del built
    gc.collect()
    clock = as_callback(pl.Callback)
    model = LSTM(h=args.horizon, input_size=args.lookback, encoder_hidden_size=32,
                 decoder_hidden_size=32, max_steps=args.steps, batch_size=32,
                 windows_batch_size=256, random_seed=args.seed, accelerator="cpu",
                 logger=False, enable_progress_bar=False, enable_checkpointing=False,
                 enable_model_summary=False, callbacks=[clock])
    fit_start = time.perf_counter()
    NeuralForecast(models=[model], freq=1).fit(df=df)
    emit({"peak_rss_mb": peak_rss_mib(), **prep,
          "first_step_s": read_s + TIMES["first"] - fit_start,
          "steps_s": read_s + TIMES["last"] - fit_start, "import_rss_mb": import_rss,
          "neuralforecast": neuralforecast.__version__})


if __name__ == "__main__":
    main()
