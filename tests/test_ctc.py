"""CTC: decoding against brute force, the task's loss and checks, streaming transcription
equal to offline decoding, keyword spotting predictions, export with state."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile", reason="audio tests need soundfile (seqlstm[audio])")

from seqlstm.data.audio.decode import read_audio
from seqlstm.data.audio.module import AudioDataModule
from seqlstm.errors import CheckpointError, ConfigError
from seqlstm.inference import Predictor
from seqlstm.nn.ctc import FrameStack, greedy_decode, prefix_beam_search
from seqlstm.tasks import Classifier, CTCRecognizer, build_task
from tests.helpers.audio import commands_folder, manifest_folder

MODEL = {"_target_": "seqlstm.tasks.SequenceTask",
         "encoder": {"cell": "lstm", "hidden_size": 16, "num_layers": 2}}


def collapse(path: tuple[int, ...], blank: int) -> tuple[int, ...]:
    return tuple(u for i, u in enumerate(path) if u != blank and (i == 0 or u != path[i - 1]))


def brute_force(log_probs: np.ndarray, blank: int) -> tuple[int, ...]:
    """The labelling with the largest total probability over all its alignments."""
    totals: dict[tuple[int, ...], float] = {}
    steps, classes = log_probs.shape
    for path in itertools.product(range(classes), repeat=steps):
        p = math.exp(sum(log_probs[t, u] for t, u in enumerate(path)))
        key = collapse(path, blank)
        totals[key] = totals.get(key, 0.0) + p
    return max(totals, key=totals.get)


def test_greedy_decode_merges_repeats_and_drops_blanks():
    blank = 3
    path = torch.tensor([[0, 0, 3, 0, 1, 1, 3, 3, 2, 2]])
    scores = torch.nn.functional.one_hot(path, 4).float()
    assert greedy_decode(scores, None, blank) == [[0, 0, 1, 2]]
    assert greedy_decode(scores, torch.tensor([5]), blank) == [[0, 0, 1]]


def test_prefix_beam_search_finds_the_most_probable_labelling():
    rng = np.random.default_rng(0)
    for _ in range(20):
        logits = rng.standard_normal((5, 3)) * 2
        log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        exact = prefix_beam_search(log_probs, blank=2, beam_width=1000, prune=-math.inf)
        assert tuple(exact) == brute_force(log_probs, blank=2)
    peaked = np.log(np.full((6, 4), 0.01))
    for t, unit in enumerate([0, 3, 0, 1, 1, 2]):
        peaked[t, unit] = np.log(0.97)
    assert prefix_beam_search(peaked, blank=3) == [0, 0, 1, 2]


def test_frame_stack_shapes():
    stack = FrameStack(3)
    x = torch.arange(2 * 7 * 2, dtype=torch.float32).reshape(2, 7, 2)
    out = stack(x)
    assert out.shape == (2, 3, 6)
    assert torch.equal(out[0, 0], x[0, :3].reshape(-1)) and torch.all(out[:, 2, 2:] == 0)
    assert stack.lengths(torch.tensor([7, 3, 1])).tolist() == [3, 1, 1]


@pytest.fixture
def manifest_data(tmp_path):
    dm = AudioDataModule(path=str(manifest_folder(tmp_path / "m")), batch_size=4)
    dm.setup("fit")
    return dm


def test_ctc_task_loss_and_the_stack_check(manifest_data):
    torch.manual_seed(0)
    task = build_task({**MODEL, "stack": 2}, manifest_data.spec)
    assert isinstance(task, CTCRecognizer) and task.head.proj.out_features == 3  # a, b, blank
    batch = manifest_data.splits["train"].__getitems__([0, 1, 2, 3])
    loss = task.loss(task(batch["inputs"])[0], batch)
    assert torch.isfinite(loss) and loss > 0
    too_coarse = build_task({**MODEL, "stack": 40}, manifest_data.spec)
    with pytest.raises(ConfigError, match=r"label_sequence.stack"):
        too_coarse.loss(too_coarse(batch["inputs"])[0], batch)
    with pytest.raises(ConfigError, match=r"label_sequence.decoder"):
        build_task({**MODEL, "decoder": "lexicon"}, manifest_data.spec)


@pytest.mark.slow
def test_ctc_learns_the_tiny_tones(manifest_data):
    import lightning as L

    torch.manual_seed(0)
    model = {**MODEL, "encoder": {"cell": "lstm", "hidden_size": 16, "num_layers": 1},
             "stack": 2, "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True,
                                       "lr": 0.02}}
    task = build_task(model, manifest_data.spec)
    trainer = L.Trainer(max_epochs=40, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, datamodule=manifest_data)
    result = trainer.test(task, datamodule=manifest_data, verbose=False)[0]
    assert result["test/cer"] < 0.05 and result["test/cer_beam"] <= result["test/cer"] + 1e-6
    manifest_data.hparams.predict_path = manifest_data.hparams.path
    manifest_data.setup("predict")
    frame = manifest_data.format_predictions(trainer.predict(task, manifest_data))
    assert list(frame.columns) == ["id", "transcript", "reference"] and len(frame) == 24
    assert (frame.transcript == frame.reference).mean() > 0.9


@pytest.mark.parametrize("chunk", [1000, 1601, 16000])
def test_streaming_equals_offline_greedy_decoding(manifest_data, chunk):
    torch.manual_seed(0)
    task = build_task({**MODEL, "stack": 3}, manifest_data.spec)
    predictor = Predictor(task)
    layout_clips = manifest_data._layout.splits["test"]
    dm_outputs = [task.predict_step(manifest_data.splits["test"].__getitems__([i]))
                  for i in range(len(layout_clips))]
    stream = predictor.audio_stream()
    for clip, batch_out in zip(layout_clips, dm_outputs, strict=True):
        samples = read_audio(clip.path, 16000)
        partials = [stream.push(samples[i : i + chunk]) for i in range(0, len(samples), chunk)]
        final = stream.finish()
        offline = predictor.transcribe(samples)
        assert predictor.transcribe(clip.path) == offline
        assert final == offline == task.text([i for i in batch_out["tokens"][0].tolist()
                                              if i >= 0])
        assert all(final.startswith(p[:-1]) for p in partials if p)  # partials grow
        assert stream.text == ""  # finish() resets


def test_streaming_refuses_a_bidirectional_model(manifest_data):
    task = build_task({**MODEL, "encoder": {**MODEL["encoder"], "bidirectional": True}},
                      manifest_data.spec)
    with pytest.raises(CheckpointError, match="unidirectional"):
        Predictor(task).audio_stream()


@pytest.mark.parametrize("stack", [2, 3])
def test_export_of_a_ctc_model_carries_state(manifest_data, tmp_path, stack):
    from seqlstm.export import export

    torch.manual_seed(0)
    task = build_task({**MODEL, "stack": stack}, manifest_data.spec).eval()
    written = export(task, tmp_path, "ctc")  # ONNX, TorchScript and the .json
    module = torch.jit.load(str(written[1]))
    x = manifest_data.splits["test"].__getitems__([0])["inputs"][:, :24]  # (1, 24, 40)
    zeros = (torch.zeros(2, 1, 16), torch.zeros(2, 1, 16))
    whole, *_ = module(x, *zeros)
    first, h, c = module(x[:, :12], *zeros)
    second, *_ = module(x[:, 12:], h, c)
    with torch.no_grad():
        expected, _ = task(x)
    assert expected.shape == (1, 24 // stack, 3)
    torch.testing.assert_close(whole, expected)
    torch.testing.assert_close(torch.cat([first, second], 1), expected, atol=1e-5, rtol=1e-4)
    ort = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    session = ort.InferenceSession(str(written[0]))
    onnx_out = session.run(None, {"inputs": x.numpy(), "h": zeros[0].numpy(),
                                  "c": zeros[1].numpy()})[0]
    np.testing.assert_allclose(onnx_out, expected.numpy(), atol=1e-5)


def test_keyword_spotting_predictions_have_labels_and_probabilities(tmp_path):
    dm = AudioDataModule(path=str(commands_folder(tmp_path / "cmd")), batch_size=4,
                         predict_path=str(tmp_path / "cmd"))
    dm.setup("fit")
    task = build_task({**MODEL, "pooling": "mean"}, dm.spec)
    assert isinstance(task, Classifier)
    dm.setup("predict")
    with torch.no_grad():
        outputs = [task.predict_step(dm.splits["predict"].__getitems__(list(range(i, i + 4))), 0)
                   for i in range(0, 24, 4)]
    frame = dm.format_predictions(outputs)
    assert list(frame.columns) == ["id", "predicted", "prob_down", "prob_up", "label"]
    assert frame.id.iloc[0] == "down/00000000_nohash_0.wav" and len(frame) == 24
    np.testing.assert_allclose(frame[["prob_down", "prob_up"]].sum(1), 1, atol=1e-5)


def test_a_lexicon_keeps_beam_search_to_its_words():
    from seqlstm.nn.ctc import Lexicon

    # units: a=0, b=1, space=2, blank=3; words "ba" and "a"
    lexicon = Lexicon([(1, 0), (0,)], separator=2)
    rng = np.random.default_rng(1)
    for _ in range(10):
        logits = rng.standard_normal((5, 4)) * 2
        log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        totals: dict[tuple[int, ...], float] = {}
        for path in itertools.product(range(4), repeat=5):
            key = collapse(path, 3)
            words = [tuple(w) for w in _split(key, 2)]
            if key and all(w in lexicon.words for w in words):
                p = math.exp(sum(log_probs[t, u] for t, u in enumerate(path)))
                totals[key] = totals.get(key, 0.0) + p
        found = prefix_beam_search(log_probs, blank=3, beam_width=1000, prune=-math.inf,
                                   lexicon=lexicon)
        assert tuple(found) == max(totals, key=totals.get)
    assert lexicon.allows((1, 0, 2)) and not lexicon.allows((0, 1)) and lexicon.complete((0,))


def _split(ids: tuple[int, ...], separator: int) -> list[list[int]]:
    words: list[list[int]] = [[]]
    for unit in ids:
        if unit == separator:
            words.append([])
        else:
            words[-1].append(unit)
    return words


def test_the_lexicon_option_is_checked(manifest_data):
    task = build_task({**MODEL, "lexicon": ["ab", "ba"]}, manifest_data.spec)
    assert task.lexicon.words == {(0, 1), (1, 0)}
    with pytest.raises(ConfigError, match=r"label_sequence.lexicon"):
        build_task({**MODEL, "lexicon": ["abc"]}, manifest_data.spec)
