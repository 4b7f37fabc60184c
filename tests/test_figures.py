"""Figures and samples: the task hooks, their routing to loggers or the run folder, the PNGs."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib.image
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from matplotlib.figure import Figure

from seqlstm.cli.train import train
from seqlstm.tasks.figures import (
    confusion_matrix,
    doubling_bins,
    forecast_vs_truth,
    loss_by_position,
)
from seqlstm.tracking.media import log_figure, log_text_table, markdown_table
from tests.helpers.probes import FirstBatchFigure
from tests.helpers.runs import tiny


def fake_trainer(root: Path, loggers: list) -> SimpleNamespace:
    return SimpleNamespace(loggers=loggers, default_root_dir=str(root), current_epoch=3,
                           global_step=42)


def test_doubling_bins_cover_every_position_once():
    assert doubling_bins(10) == [(1, 1), (2, 2), (3, 4), (5, 8), (9, 10)]
    assert doubling_bins(1) == [(1, 1)]


def test_loss_by_position_is_labelled_in_bits():
    losses = torch.full((4, 10), math.log(2))  # 1 bit everywhere...
    losses[:, 0] = 2 * math.log(2)  # ...but 2 bits at the first position
    losses[0, 5] = float("nan")  # an unscored target is left out of the means
    figure = loss_by_position(losses, epoch=3)
    (axes,) = figure.axes
    assert axes.get_xlabel() == "position in window (characters of context seen, log scale)"
    assert axes.get_ylabel() == "validation loss (bits per character)"
    assert axes.get_title() == \
        "Validation loss by position in the window (mean of 4 windows, epoch 3)"
    curve, bins, mean = axes.get_lines()
    assert list(curve.get_xdata()) == list(range(1, 11))
    assert curve.get_ydata()[0] == pytest.approx(2.0) and curve.get_ydata()[5] == pytest.approx(1)
    assert list(bins.get_ydata()) == pytest.approx([2, 1, 1, 1, 1])
    assert mean.get_ydata()[0] == pytest.approx((4 * 2 + 35 * 1) / 39)
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == [
        "each position", "positions 1, 2, 3-4, 5-8, ...", "all positions: 1.10"]


def test_figures_go_to_png_files_when_no_logger_takes_images(tmp_path):
    figure = Figure(figsize=(4, 3))
    figure.add_subplot().plot([1, 2, 3])
    path = log_figure(fake_trainer(tmp_path, [CSVLogger(tmp_path)]), "val/forecast", figure)
    assert path == tmp_path / "figures" / "val-forecast-epoch003-step000042.png"
    assert matplotlib.image.imread(path).shape[:2] == (330, 440)  # 4 x 3 inches at 110 dpi


def test_figures_and_text_go_to_tensorboard_when_chosen(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path, name="tb", version="")
    trainer = fake_trainer(tmp_path, [logger])
    figure = Figure()
    figure.add_subplot().plot([1, 2])
    assert log_figure(trainer, "val/fig", figure) is None
    assert log_text_table(trainer, "val/samples", ["prompt", "sample"], [["a", "b|c"]]) is None
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir, size_guidance={"tensors": 0}).Reload()
    assert events.Tags()["images"] == ["val/fig"]
    (text,) = events.Tensors("val/samples/text_summary")
    assert text.step == 42
    assert text.tensor_proto.string_val[0].decode() == markdown_table(["prompt", "sample"],
                                                                       [["a", "b|c"]])
    assert not (tmp_path / "figures").exists() and not (tmp_path / "samples.txt").exists()


def test_markdown_table_escapes_pipes_and_newlines():
    table = markdown_table(["a", "b"], [["x|y", "1\n2"]])
    assert table == "| a | b |\n|---|---|\n| x\\|y | 1<br>2 |"


def test_text_goes_to_samples_file_without_a_text_logger(tmp_path):
    trainer = fake_trainer(tmp_path, [])
    path = log_text_table(trainer, "val/samples", ["prompt", "sample"], [["\n", "to be"]])
    assert path.read_text() == "== val/samples, epoch 3, step 42 ==\nprompt: \n\nsample: to be\n\n"


@pytest.mark.slow
def test_each_validation_epoch_logs_samples_and_the_tasks_figures(compose_train, small_text,
                                                                   tmp_path):
    FirstBatchFigure.seen = []
    cfg = compose_train("model._target_=tests.helpers.probes.FirstBatchFigure", "logger=csv",
                        *tiny(small_text), "trainer.max_epochs=2")
    train(cfg)
    run = tmp_path / "run"
    # the hook saw the first validation batch of each epoch (not the sanity check), in eval mode
    assert FirstBatchFigure.seen == [((8, 16), False), ((8, 16), False)]
    assert sorted(p.name for p in (run / "figures").iterdir()) == [
        "val-first_batch-epoch000-step000003.png", "val-first_batch-epoch001-step000006.png"]
    samples = (run / "samples.txt").read_text()
    assert samples.count("== val/samples, epoch ") == 2
    assert samples.count("sample: ") == 4  # two samples per epoch


@pytest.mark.slow
def test_language_model_figure_png_is_written_for_csv_runs(compose_train, small_text, tmp_path):
    train(compose_train("logger=csv", *tiny(small_text)))
    (png,) = (tmp_path / "run" / "figures").glob("val-loss_by_position-epoch000-step000003.png")
    height, width, _ = matplotlib.image.imread(png).shape
    assert (width, height) == (770, 440)  # 7 x 4 inches at 110 dpi


def test_forecast_figure_has_a_labelled_panel_per_series():
    history, truth = torch.zeros(2, 24), torch.ones(2, 6)
    figure = forecast_vs_truth(history, truth, truth + 0.1, truth - 0.5, truth + 0.5,
                               names=["a", "b"], unit="load (MW)", interval="90% interval",
                               epoch=2)
    assert [axes.get_title() for axes in figure.axes] == ["a", "b"]
    assert {axes.get_ylabel() for axes in figure.axes} == {"load (MW)"}
    assert figure.axes[-1].get_xlabel() == "steps relative to the forecast origin"
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["input", "truth", "forecast",
                                                         "90% interval"]
    inputs, _, forecast = figure.axes[0].get_lines()[:3]
    assert list(inputs.get_xdata()) == list(range(-23, 1))
    assert list(forecast.get_xdata()) == list(range(1, 7))


def test_confusion_matrix_shows_row_shares_and_counts():
    counts = torch.tensor([[8, 2], [0, 0]])  # the second class never occurs
    figure = confusion_matrix(counts, ["cat", "dog"], epoch=1)
    axes = figure.axes[0]
    assert axes.get_title() == "Validation confusion matrix, epoch 1 (accuracy 80.0%)"
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in axes.texts] == ["8", "2", "0", "0"]
    assert axes.images[0].get_array().ravel().tolist() == pytest.approx([0.8, 0.2, 0.0, 0.0])
    assert figure.axes[1].get_ylabel() == "share of the true class"
