"""The Trainer-free predict path and the streaming API."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seqlstm.errors import CheckpointError, DataError
from seqlstm.inference import Predictor, Stream
from tests.helpers.checkpoints import tagger, tagger_checkpoint, tiny_lm_checkpoint


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor.from_checkpoint(tiny_lm_checkpoint(tmp_path_factory.mktemp("lm")))


def test_predict_equals_trainer_predict_and_the_networks_logits(predictor):
    """Both run ``predict_step``; the reference is the network wired by hand (embedding,
    encoder, head) in eval mode."""
    torch.manual_seed(1)
    batches = [{"inputs": torch.randint(1, len(predictor.vocab), (3, 12))} for _ in range(2)]
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    expected = trainer.predict(predictor.task, DataLoader(batches, batch_size=None))
    task = predictor.task.eval()
    for batch, reference in zip(batches, expected, strict=True):
        outputs = predictor.predict(batch["inputs"])
        assert outputs.shape == (3, 12, len(predictor.vocab)) and outputs.is_inference()
        with torch.no_grad():
            features, _ = task.encoder(task.embedding(batch["inputs"]))  # (B, T, H)
            logits = task.head(features)  # (B, T, V)
        assert torch.allclose(outputs, logits, atol=1e-6)
        assert torch.allclose(reference, logits, atol=1e-6)


def test_predict_next_and_next_token_probs(predictor):
    text = "the cat saw"
    ids = torch.as_tensor(predictor.vocab.encode(text).astype("int64"))
    with torch.no_grad():
        logits, _ = predictor.task(ids[None])
    assert torch.allclose(predictor.predict_next(text), logits[0, -1], atol=1e-6)
    assert torch.allclose(predictor.predict_next(ids[None].repeat(2, 1)),
                          logits[:, -1].repeat(2, 1), atol=1e-6)
    probs = predictor.next_token_probs(text)
    assert probs.shape == (len(predictor.vocab),)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(probs, logits[0, -1].softmax(-1), atol=1e-6)


def test_stream_one_character_at_a_time_equals_one_pass(predictor):
    text = "the owl saw 3 trees"
    ids = torch.as_tensor(predictor.vocab.encode(text).astype("int64"))
    with torch.no_grad():
        logits, _ = predictor.task(ids[None])  # (1, T, V)
    stream = predictor.stream()
    steps = torch.stack([stream.step(char) for char in text])  # (T, V)
    assert torch.allclose(steps, logits[0], atol=1e-5)

    stream.reset()
    stream.feed(text[:-1])
    assert torch.allclose(stream.step(int(ids[-1])), logits[0, -1], atol=1e-5)

    two = Stream(predictor.task)
    both = [two.step(torch.stack([ids[t], ids[t]])) for t in range(len(text))]
    assert both[-1].shape == (2, len(predictor.vocab))
    assert torch.allclose(both[-1][1], logits[0, -1], atol=1e-5)


def test_stream_of_feature_vectors():
    task = tagger(input_size=3, output_size=2)
    series = torch.randn(1, 9, 3)
    with torch.no_grad():
        outputs, _ = task(series)  # (1, 9, 2)
    stream = Predictor(task).stream()
    steps = torch.stack([stream.step(series[0, t]) for t in range(9)])  # (9, 2)
    assert torch.allclose(steps, outputs[0], atol=1e-5)
    with pytest.raises(DataError, match="expected 3 features per step, got 4"):
        stream.step(torch.zeros(4))


def test_bad_inputs_are_one_line_errors(predictor, tmp_path):
    with pytest.raises(DataError, match="characters not in the vocabulary: 'é'"):
        predictor.stream().step("é")
    with pytest.raises(DataError, match="expected one character, got 'ab'"):
        predictor.stream().step("ab")
    other = Predictor.from_checkpoint(tagger_checkpoint(tmp_path))
    with pytest.raises(CheckpointError, match="needs a LanguageModel; the predictor holds a "
                                              "StepTagger"):
        other.next_token_probs("the")
    with pytest.raises(DataError, match="text input needs a model with a vocabulary or tokenizer"):
        other.predict_next("abc")


def test_predictor_forecasts_equal_trainer_predict():
    from seqlstm.data import DataSpec
    from seqlstm.tasks import Forecaster

    spec = DataSpec(input_kind="real", target_kind="real", input_size=1, output_size=1,
                    horizon=12)
    torch.manual_seed(0)
    model = Forecaster(spec=spec.as_dict(), encoder={"hidden_size": 8, "num_layers": 2})
    history = torch.randn(2, 20, 1)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    (expected,) = trainer.predict(model, DataLoader([{"inputs": history}], batch_size=None))
    forecast = Predictor(model).predict(history)
    with torch.no_grad():  # the direct strategy by hand: the last step's features -> horizon
        features, _ = model.eval().encoder(history)  # (B, T, H)
        by_hand = model.head.proj(features[:, -1]).view(2, 12, 1)
    assert forecast["mean"].shape == (2, 12, 1)
    assert torch.allclose(forecast["mean"], by_hand, atol=1e-6)
    assert torch.allclose(expected["mean"], by_hand, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"relative": True, "loss": "gaussian_nll"}])
def test_forecast_from_raw_history_equals_the_data_modules_windows(options):
    """Predictor.forecast scales raw history (targets, past and known-future covariates) with
    the named series' scaler and gives what predict_step gives on the data module's window."""
    from seqlstm.data import TimeSeriesDataModule
    from seqlstm.tasks import Forecaster
    from tests.helpers.timeseries_data import two_series

    table = two_series()
    dm = TimeSeriesDataModule(table, targets=["y"], time_column="t", id_column="id",
                              past_covariates=["p"], future_covariates=["f"], lookback=4,
                              horizon=2, batch_size=8)
    dm.setup("fit")
    torch.manual_seed(0)
    model = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8}, **options)
    predictor = Predictor(model)
    windows = dm.windows["val"]  # one window per series, rows 28-33
    expected = model.eval().predict_step(windows.__getitems__([0, 1]), 0)
    for i, name in enumerate(["a", "b"]):
        rows = table[table["id"] == name].iloc[28:34]
        history = rows[["y", "p", "f"]].to_numpy()[:4]  # (lookback, C) in original units
        future = rows[["f"]].to_numpy()[4:]  # (horizon, 1): known ahead
        forecast = predictor.forecast(history, series=name, future=future)
        assert forecast["mean"].shape == (2, 1) and set(forecast) == set(expected)
        for key, value in forecast.items():
            assert torch.allclose(value, expected[key][i], atol=1e-5)


def test_forecast_bad_input_is_one_line_errors():
    from seqlstm.data import TimeSeriesDataModule
    from seqlstm.tasks import Forecaster
    from tests.helpers.timeseries_data import two_series

    dm = TimeSeriesDataModule(two_series(), targets=["y"], time_column="t", id_column="id",
                              future_covariates=["f"], lookback=4, horizon=2)
    dm.setup("fit")
    predictor = Predictor(Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 4}))
    history = np.zeros((4, 2))
    with pytest.raises(DataError, match=r"trained on 2 series; name one with series= "
                                        r"\(known: \['a', 'b'\]\)"):
        predictor.forecast(history, future=np.zeros((2, 1)))
    with pytest.raises(DataError, match="series 'c' was not in the training data"):
        predictor.forecast(history, series="c", future=np.zeros((2, 1)))
    with pytest.raises(DataError, match=r"expected future covariates \['f'\] over the 2-step"):
        predictor.forecast(history, series="a")
    with pytest.raises(DataError, match=r"shape \(horizon=2, 1\), got \(3, 1\)"):
        predictor.forecast(history, series="a", future=np.zeros((3, 1)))
    with pytest.raises(DataError, match="expected 2 features per step, got 1"):
        predictor.forecast(np.zeros((4, 1)), series="a", future=np.zeros((2, 1)))
