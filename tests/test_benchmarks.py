"""The benchmark harness's own logic: tables, ratios, the docs section rewrite, the data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from benchmarks import harness, report
from benchmarks.__main__ import main as bench_main
from benchmarks.char_lm import lstm_train_flops_per_token, verdict
from benchmarks.char_lm import parse as parse_char_lm
from benchmarks.forecast import Scaled, build_data
from benchmarks.forecast_crps import crps_from_quantiles, scores
from benchmarks.learning import last_values
from benchmarks.progress_load import last_rate, screen_text
from benchmarks.runners.common import StepClock
from benchmarks.runners.fc_data import LEVELS, ForecastData, sample_quantiles
from benchmarks.small_data import command, row
from benchmarks.synthetic import synthetic_panel


def test_ratio_handles_missing_and_zero_references():
    assert report.ratio(3.0, 2.0) == 1.5
    assert report.ratio(None, 2.0) is None
    assert report.ratio(3.0, None) is None
    assert report.ratio(3.0, 0.0) is None


@pytest.mark.parametrize(("value", "text"), [
    (None, "-"), (0, "0"), (21345.6, "21,346"), (0.95312, "0.953"), (1.5, "1.5"), ("x", "x"),
])
def test_fmt(value, text):
    assert report.fmt(value) == text


def test_markdown_table_aligns_numeric_columns_right():
    table = report.markdown_table(["system", "tokens/s"], [["a", 1234.5], ["b", None]])
    assert table == ("| system | tokens/s |\n| --- | ---: |\n| a | 1,234 |\n| b | - |\n")


def test_rewrite_section_appends_then_replaces_only_its_own_markers():
    text = "# Benchmarks\n\nIntro kept as is.\n"
    once = report.rewrite_section(text, "char-lm", "old table")
    twice = report.rewrite_section(once, "forecast", "forecast table")
    again = report.rewrite_section(twice, "char-lm", "new table\n")
    begin, end = report.markers("char-lm")
    assert again.startswith("# Benchmarks\n\nIntro kept as is.\n\n")
    assert f"{begin}\nnew table\n{end}" in again
    assert "old table" not in again
    assert "forecast table" in again
    assert report.rewrite_section(again, "char-lm", "new table") == again


def test_rewrite_section_refuses_duplicated_markers():
    begin, end = report.markers("x")
    with pytest.raises(ValueError, match="appear 2 times"):
        report.rewrite_section(f"{begin}\na\n{end}\n{begin}\nb\n{end}\n", "x", "c")


def test_write_section_creates_the_document(tmp_path):
    doc = tmp_path / "docs" / "benchmarks.md"
    report.write_section("learning", "a table", doc)
    assert doc.read_text().startswith("# Benchmarks\n")
    assert "a table" in doc.read_text()


def test_synthetic_panel_is_deterministic_and_seeded():
    a, b = synthetic_panel(3, 200, seed=7), synthetic_panel(3, 200, seed=7)
    assert a.shape == (3, 200) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, synthetic_panel(3, 200, seed=8))
    # the seasonal period shows: lag-24 differences vary less than lag-12 ones
    assert np.abs(a[:, 24:] - a[:, :-24]).mean() < np.abs(a[:, 12:] - a[:, :-12]).mean()


def test_forecast_data_windows_stay_in_their_split(tmp_path):
    scaled = Scaled(list(synthetic_panel(2, 120, seed=0)), [24, 24])
    data = scaled.data
    assert list(data.train_end) == [96, 96]
    starts = data.train_starts()
    assert len(starts) == 2 * (96 - 60 + 1)  # lookback 48 + horizon 12 inside 96 steps
    series = np.searchsorted(data.offsets, starts, side="right") - 1
    assert (starts + 60 <= data.offsets[series] + data.train_end[series]).all()
    assert list(map(tuple, data.origins)) == [(0, 96), (0, 108), (1, 96), (1, 108)]
    # standardised with the training split alone
    train = data.series(0)[:96]
    assert abs(train.mean()) < 1e-5 and abs(train.std() - 1) < 1e-4
    data.save(str(tmp_path / "d.npz"))
    loaded = ForecastData.load(str(tmp_path / "d.npz"))
    np.testing.assert_array_equal(loaded.windows(loaded.origin_starts())[1],
                                  data.windows(data.origin_starts())[1])


def test_forecast_scores_in_original_units():
    scaled = Scaled(list(synthetic_panel(2, 120, seed=0)), [24, 24])
    truth = scaled.targets()
    _, scaled_targets = scaled.data.windows(scaled.data.origin_starts())
    np.testing.assert_allclose(scaled.unscale(scaled_targets), truth, rtol=1e-5)
    assert scaled.mae(truth) == 0
    assert scaled.mase(truth) == 0
    assert scaled.mae(truth + 2) == pytest.approx(2)


def test_crps_from_quantiles_matches_the_closed_form_gaussian_crps():
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    mu, y = rng.normal(size=(400, 12)), 1.5 * rng.normal(size=(400, 12))
    sigma = np.exp(0.5 * rng.normal(size=(400, 12)))
    z = (y - mu) / sigma  # Gneiting & Raftery (2007): the CRPS of N(mu, sigma^2) at y
    exact = np.mean(sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi)))
    quantiles = mu[..., None] + sigma[..., None] * norm.ppf(LEVELS)  # (400, 12, 99)
    assert crps_from_quantiles(quantiles, LEVELS, y) == pytest.approx(exact, rel=0.015)
    # a point forecast (every quantile equal) scores its absolute error
    point = np.repeat(mu[..., None], len(LEVELS), axis=-1)
    assert crps_from_quantiles(point, LEVELS, y) == pytest.approx(np.abs(y - mu).mean())


def test_forecast_crps_scores_quantiles_in_original_units():
    scaled = Scaled(list(synthetic_panel(2, 120, seed=0)), [24, 24])
    _, targets = scaled.data.windows(scaled.data.origin_starts())  # (M, H) standardised
    draws = targets[..., None] + np.random.default_rng(0).normal(0, 1e-3, (*targets.shape, 50))
    quantiles = sample_quantiles(draws)  # (M, H, 99), a sharp forecast around the truth
    assert quantiles.shape == (*targets.shape, 99)
    result = scores(scaled, quantiles)
    assert result["mae"] == pytest.approx(0, abs=0.01) and result["crps"] < result["mae"] + 0.01
    result = scores(scaled, quantiles + 10)  # 10 deviations above: nothing covered
    assert result["coverage"] == 0 and result["crps"] == pytest.approx(result["mae"], rel=0.01)


def test_build_data_adds_the_co2_series():
    scaled = build_data(2, 200, seed=0)
    assert scaled.data.n_series == 3
    assert list(scaled.data.periods) == [24, 24, 52]
    assert len(scaled.data.series(2)) == 2284


def test_step_clock_times_only_after_warmup():
    clock = StepClock(warmup=2)
    for _ in range(5):
        clock.tick()
    assert clock.timed_steps == 3
    rates = clock.rates(items_per_step=10, unit="tokens")
    assert rates["steps"] == 3
    assert math.isclose(rates["tokens_per_s"], 30 / clock.seconds)


def test_step_clock_refuses_too_few_steps():
    clock = StepClock(warmup=2)
    clock.tick()
    with pytest.raises(RuntimeError, match="need warmup >= 1"):
        _ = clock.seconds


def test_lstm_flops_per_token():
    # 2 layers x 4 gates x H(I+H) multiply-adds + the head, x2 FLOPs, x3 for training
    expected = 3 * (2 * 4 * 256 * (64 + 256) + 2 * 4 * 256 * 512 + 2 * 256 * 66)
    assert lstm_train_flops_per_token(66, 64, 256, 2) == expected


def test_last_values_reads_a_lightning_csv(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train/loss,val/loss\n0,9,2.5,\n0,9,,2.0\n1,19,1.5,\n")
    assert last_values(path) == {"epoch": 1.0, "step": 19.0, "train/loss": 1.5, "val/loss": 2.0}


def test_entry_point_lists_and_refuses_unknown_names(capsys):
    assert bench_main([]) == 0
    assert "char-lm" in capsys.readouterr().out
    assert bench_main(["nope"]) == 2
    assert "no benchmark named 'nope'" in capsys.readouterr().err
    assert bench_main(["setup", "nope"]) == 2


def test_runner_output_is_json(capsys):
    from benchmarks.runners.common import emit

    emit({"x": 1})
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line)["x"] == 1 and json.loads(line)["peak_rss_mb"] > 0


def test_char_lm_targets_compare_seqlstm_with_each_system():
    speed = {"torch": 1000.0, "torch-tuned": 1500.0, "seqlstm": 1400.0, "keras-tf": 1200.0,
             "keras-torch": 40.0}
    assert verdict("seqlstm", speed) == "seqlstm / reference = 1.40: met (>= 1.3)"
    assert verdict("torch-tuned", speed) == "seqlstm / this = 0.93: MISSED (>= 1)"
    assert verdict("keras-tf", speed) == "seqlstm / this = 1.17: MISSED (>= 1.3)"
    assert verdict("keras-torch", speed) == "seqlstm / this = 35.00: met (>= 20)"
    assert verdict("torch", speed) == "-"
    assert verdict("keras-tf", {**speed, "seqlstm": None}) == "-"


def test_a_runtime_whose_preloaded_library_is_missing_is_named_with_its_package(monkeypatch):
    monkeypatch.setattr(harness.ctypes.util, "find_library", lambda name: None)
    assert harness.missing_preload("seqlstm") is None
    assert harness.missing_preload("tcmalloc") == (
        "libtcmalloc_minimal.so.4 is not installed (apt install libtcmalloc-minimal4)")
    defaults = parse_char_lm([]).systems
    assert "torch-tcmalloc" not in defaults  # left out of the default list
    assert "torch-mmap64" not in defaults  # the allocator probes run only when named
    with pytest.raises(SystemExit):
        parse_char_lm(["--systems", "torch", "torch-tcmalloc"])


def test_progress_load_reads_the_bars_last_throughput():
    raw = ("\x1b[2KEpoch 0/0 \x1b[38;5;56m━━\x1b[0m 20/25 \x1b[3mtrain/loss_step: 3.1 tokens/s:"
           "    \x1b[0m\r\n    \x1b[3m27,900 \x1b[0m\r\x1b[2K ... tokens/s: \x1b[0m\r\n"
           "   \x1b[3m28,015 \x1b[0m").encode()
    assert last_rate(screen_text(raw)) == 28015.0
    assert last_rate("no bar here") is None


def test_small_data_runs_the_documented_command_and_summarises_seeds(tmp_path):
    assert command("GunPoint", tmp_path, 2) == [
        "data=sequences", f"data.path={tmp_path}/GunPoint/GunPoint_TRAIN.ts",
        f"data.test_path={tmp_path}/GunPoint/GunPoint_TEST.ts", "seed=2"]
    results = [{"acc": 0.9, "steps": 700, "stopped_early": True, "seconds": 60},
               {"acc": 1.0, "steps": 1000, "stopped_early": False, "seconds": 120}]
    cells = row("GunPoint", [1, 2], results)
    assert cells[2:] == ["0.9 (seed 1), 1 (seed 2)", pytest.approx(0.95), "700, 1000 (budget)",
                         1.5]
    assert row("GunPoint", [1], [{"error": "error: boom"}])[2] == "failed: error: boom"


def test_forecast_scale_tables_hold_the_same_rows_grouped_or_interleaved(tmp_path):
    import pandas as pd

    from benchmarks.forecast_scale import write_table

    write_table(tmp_path / "g.parquet", 3, 5, seed=0)
    write_table(tmp_path / "i.parquet", 3, 5, seed=0, interleaved=True)
    grouped, interleaved = (pd.read_parquet(tmp_path / f"{n}.parquet") for n in "gi")
    assert interleaved["ds"].tolist()[:4] == [0, 0, 0, 1]
    assert grouped["unique_id"].tolist()[:6] == ["s0000000"] * 5 + ["s0000001"]
    pd.testing.assert_frame_equal(
        grouped, interleaved.sort_values(["unique_id", "ds"]).reset_index(drop=True))


@pytest.mark.slow
def test_forecast_scale_first_read_measures_both_reads(tmp_path):
    from benchmarks import forecast_scale

    section = forecast_scale.main(["--first-read", "--interleaved", "--sizes", "30",
                                   "--length", "40", "--no-write", "--work", str(tmp_path)])
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| 30 x 40")]
    assert [r[1] for r in rows] == ["memory", "streamed"]
    assert rows[0][6] == rows[1][6]  # the same store either way
    assert not (tmp_path / "cache").exists()


def test_backtest_cases_write_their_tables(tmp_path):
    from benchmarks.forecast_backtest import make_table

    args, length = make_table("panel-100x20", tmp_path)
    frame = pd.read_csv(args[1])
    assert length == 1400 and frame.groupby("id").size().eq(1400).all()
    assert frame["id"].nunique() == 100
    assert args[2:] == ["--id-column", "id", "--folds", "20", "--step", "4"]
    args, length = make_table("co2-20", tmp_path)
    assert length == len(pd.read_csv(args[1])) == 2284 and "--id-column" not in args
