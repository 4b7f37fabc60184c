"""Word-level language models: layouts, variable BPTT, AR/TAR, NT-ASGD, word generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlstm.data import WordLMDataModule
from seqlstm.data.streams import VariableStreamBatches
from seqlstm.errors import ConfigError, DataError
from seqlstm.tasks.averaging import ParameterAverage, activation_penalty
from tests.helpers.text_data import write_word_lm

pytest.importorskip("tokenizers", reason="word and subword tokenizers need seqlstm[text]")


@pytest.mark.parametrize("layout", ["ptb", "wikitext2"])
def test_layouts_give_word_windows_with_eos(tmp_path, layout):
    dm = WordLMDataModule(str(write_word_lm(tmp_path / layout, layout)), seq_len=8,
                          batch_size=4)
    dm.setup("fit")
    spec = dm.spec
    assert spec.extra["layout"] == layout and "<eos>" in spec.vocab and "<unk>" in spec.vocab
    assert spec.extra["coverage"]["val"]["unknown"] == 0
    batch = next(iter(dm.train_dataloader()))
    assert batch["inputs"].shape == (4, 8)
    assert torch.equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
    words = dm.tokenizer.decode(dm.ids["train"][:12]).split()
    assert words[:3] == ["the", "cat", "saw"] and "<eos>" in words


def test_files_need_all_three_splits(tmp_path):
    folder = write_word_lm(tmp_path / "ptb")
    with pytest.raises(ConfigError, match=r"data\.val_path"):
        WordLMDataModule(str(folder / "ptb.train.txt")).setup("fit")
    with pytest.raises(DataError, match="no WikiText-2 or PTB layout"):
        WordLMDataModule(str(tmp_path)).setup("fit")


def test_variable_bptt_batches_continue_each_other():
    ids = np.arange(4 * 500)
    streams = VariableStreamBatches(ids[:-1], ids[1:], 4, 35, seed=0)
    lengths = [streams.batch(i)["inputs"].shape[1] for i in range(len(streams))]
    assert min(lengths) >= 5 and len(set(lengths)) > 5
    assert abs(np.mean(lengths) - 35 * 0.975) < 4  # 95% around 35, 5% around 17.5
    first, second = streams.batch(0), streams.batch(1)
    assert torch.equal(second["inputs"][:, 0], first["inputs"][:, -1] + 1)  # contiguous
    assert sum(lengths) == streams.stream_len
    again = VariableStreamBatches(ids[:-1], ids[1:], 4, 35, seed=0)
    assert np.array_equal(again.starts, streams.starts)  # drawn from the seed: resumable


def test_variable_bptt_needs_stateful(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.variable_bptt"):
        WordLMDataModule(str(tmp_path), variable_bptt=True)


def test_ar_and_tar_by_hand():
    h = torch.tensor([[[1.0, 2.0], [3.0, 2.0]]])  # (1, 2, 2)
    assert activation_penalty(h, 2.0, 0.0) == pytest.approx(2.0 * (1 + 4 + 9 + 4) / 4)
    assert activation_penalty(h, 0.0, 1.0) == pytest.approx((4 + 0) / 2)


def test_nt_asgd_triggers_on_a_non_monotone_loss_and_averages():
    layer = torch.nn.Linear(1, 1, bias=False)
    average = ParameterAverage(layer, nonmono=2)
    assert not any(average.observe(v) for v in (5.0, 4.0, 3.0, 3.5))  # history too short
    assert average.observe(4.5)  # 4.5 > min(5, 4, 3): the first checks beat it
    with torch.no_grad():
        for value in (2.0, 4.0):  # the average starts from the live weight
            layer.weight.fill_(value)
            average.update()
    live = layer.weight.item()
    average.swap()
    assert average.averaging and layer.weight.item() != live
    average.swap()
    assert layer.weight.item() == live


@pytest.mark.slow
def test_word_lm_trains_with_awd_options_and_generates_words(compose_train, tmp_path):
    from seqlstm.cli.train import train
    from seqlstm.tasks import load_task
    from tests.conftest import FAST_WITH_CALLBACKS

    folder = write_word_lm(tmp_path / "ptb")
    cfg = compose_train("data=word_lm", f"data.path={folder}", "data.seq_len=8",
                        "data.batch_size=4", "data.stateful=true", "data.variable_bptt=true",
                        "model.encoder.hidden_size=16", "model.embedding_dim=16",
                        "model.task_options.next_token.tie_weights=true",
                        "model.encoder.proj_size=0",
                        "model.task_options.next_token.ar=2", "model.task_options.next_token.tar=1",
                        "model.task_options.next_token.nt_asgd=1",
                        "model.optimizer._target_=torch.optim.SGD", "model.optimizer.lr=1",
                        "logger=[]", "~callbacks.lr_monitor", *FAST_WITH_CALLBACKS,
                        "trainer.max_epochs=4")
    metrics = train(cfg)
    assert metrics["val/ppl"] < 1e4
    model = load_task(tmp_path / "run" / "checkpoints" / "last.ckpt")
    sample = model.generate_text("the cat", 6, seed=0)[0]
    assert sample.startswith(" ") and len(sample.split()) >= 5  # words, spaced after the prompt
    with pytest.raises(DataError, match="prompt"):
        model.generate_text("zebra", 3)
