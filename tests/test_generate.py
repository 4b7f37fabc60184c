"""Generation: sampling options, seeds, batches of samples, O(1) steps, and bad input."""

from __future__ import annotations

import re

import pytest
import torch

from seqlstm.inference import Predictor
from seqlstm.tasks import load_task
from seqlstm.tasks.language_model import sample_next
from tests.conftest import run_cli
from tests.helpers.checkpoints import tagger_checkpoint, tiny_lm_checkpoint
from tests.helpers.probes import run_main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_lm_checkpoint(tmp_path_factory.mktemp("lm"), steps=20)


@pytest.fixture(scope="module")
def model(checkpoint):
    return load_task(checkpoint)


def greedy(model, prompt: str, length: int) -> str:
    """Argmax decoding that re-reads the whole text for every character (no cached state)."""
    vocab = model.vocabulary
    ids = torch.as_tensor(vocab.encode(prompt).astype("int64"))[None]
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(ids)
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return vocab.decode(ids[0, -length:].numpy())


@pytest.mark.parametrize("entry", ["task", "predictor"])
def test_same_seed_same_samples_other_seed_other_samples(model, entry):
    """The one place for seeded sampling: the task's ``generate_text`` and the Predictor's
    ``generate`` (the Trainer-free API) alike."""
    generate = model.generate_text if entry == "task" else Predictor(model).generate
    first = generate("the ", 40, num_samples=3, seed=7, top_k=5)
    assert first == generate("the ", 40, num_samples=3, seed=7, top_k=5)
    assert first != generate("the ", 40, num_samples=3, seed=8, top_k=5)
    assert len(first) == 3 and all(len(s) == 40 for s in first)
    assert len(set(first)) == 3  # samples in one batch are drawn independently
    assert set("".join(first)) <= set(model.vocabulary.tokens)


def test_top_k_one_and_tiny_top_p_are_greedy(model):
    expected = greedy(model, "the fox", 30)
    assert model.generate_text("the fox", 30, seed=1, top_k=1) == [expected]
    assert model.generate_text("the fox", 30, seed=2, top_p=1e-6) == [expected]
    assert model.generate_text("the fox", 30, seed=3, temperature=1e-4) == [expected]


def test_top_k_and_top_p_restrict_the_candidates():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    gen = torch.Generator().manual_seed(0)
    top2 = {int(sample_next(logits, 1.0, 2, None, gen)) for _ in range(200)}
    nucleus = {int(sample_next(logits, 1.0, None, 0.7, gen)) for _ in range(200)}
    assert top2 == {0, 1} and nucleus == {0, 1}  # 0.5 < 0.7 <= 0.5 + 0.3


def test_samples_share_one_batch_and_each_new_token_is_one_step(model):
    calls = []
    handle = model.encoder.register_forward_hook(
        lambda module, args, output: calls.append(tuple(args[0].shape[:2])))
    try:
        samples = model.generate_text("the cat", 25, num_samples=3, seed=0)
    finally:
        handle.remove()
    assert len(samples) == 3 and all(len(s) == 25 for s in samples)
    assert calls == [(3, 7)] + [(3, 1)] * 25  # the prompt once, then one step per token


@pytest.mark.slow
def test_generate_cli_prints_prompt_and_samples(checkpoint, tmp_path):
    result = run_cli("generate", f"ckpt_path={checkpoint}", "prompt=the", "length=12",
                     "num_samples=2", "seed=5", "top_k=3", "top_p=0.9",
                     f"output={tmp_path / 'out.txt'}", cwd=tmp_path)
    parts = re.split(r"^--- sample (\d) ---\n", result.stdout.rstrip("\n"), flags=re.M)
    assert parts[0] == "" and parts[1::2] == ["1", "2"]
    samples = [part.removesuffix("\n") for part in parts[2::2]]
    assert all(s.startswith("the") and len(s) == 15 for s in samples)
    assert (tmp_path / "out.txt").read_text() == result.stdout


@pytest.mark.parametrize(("override", "message"), [
    ("temperature=-1.5", "config key 'temperature' must be a number > 0, got -1.5"),
    ("top_p=1.5", "config key 'top_p' must be a number in (0, 1] or null, got 1.5"),
    ("top_p=0", "config key 'top_p' must be a number in (0, 1] or null, got 0"),
    ("top_k=0", "config key 'top_k' must be an integer >= 1 or null, got 0"),
    ("num_samples=0", "config key 'num_samples' must be an integer >= 1, got 0"),
    ("prompt='héllo'", "prompt: characters not in the vocabulary: 'é' (1 occurrences)"),
])
def test_bad_generation_input_is_one_line_and_exit_2(checkpoint, tmp_path, override, message):
    from seqlstm.cli.scripts import generate

    error = run_main(generate, f"ckpt_path={checkpoint}", "length=5", override, cwd=tmp_path)
    assert error == f"error: {message}"


@pytest.mark.slow
def test_generate_refuses_a_checkpoint_of_another_task(tmp_path):
    ckpt = tagger_checkpoint(tmp_path)
    result = run_cli("generate", f"ckpt_path={ckpt}", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {ckpt}: holds a StepTagger, but this command needs a LanguageModel")
