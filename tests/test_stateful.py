"""Stateful (truncated-BPTT) training: stream layout, sharding, carried state, evaluation."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from torch import nn

from seqlstm.cli.train import train
from seqlstm.data import CharDataModule
from seqlstm.data.streams import ResumePoint, StreamBatches, shard_bounds
from seqlstm.errors import CheckpointError, ConfigError
from seqlstm.tasks import LanguageModel
from seqlstm.tasks.carried import CARRIED_KEY, CarriedState
from tests.conftest import FAST, run_cli
from tests.helpers.checkpoints import tagger
from tests.helpers.runs import quiet_trainer


def char_data(path: Path, **kwargs) -> CharDataModule:
    data = CharDataModule(path, **{"seq_len": 16, "batch_size": 4, "stateful": True, **kwargs})
    data.setup("fit")
    return data


def small_model(data: CharDataModule, **kwargs) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(spec=data.spec.as_dict(), encoder={"hidden_size": 16, **kwargs.pop(
        "encoder", {})}, embedding_dim=8, **kwargs)


# -- layout -------------------------------------------------------------------------------------
def test_batchify_layout_numbers():
    ids = np.arange(25)  # 24 steps: input i -> target i + 1
    streams = StreamBatches(ids[:-1], ids[1:], num_streams=4, seq_len=2)
    assert (streams.stream_len, len(streams), streams.unread) == (6, 3, 0)
    batches = list(streams)
    assert batches[0]["inputs"].tolist() == [[0, 1], [6, 7], [12, 13], [18, 19]]
    assert batches[0]["targets"].tolist() == [[1, 2], [7, 8], [13, 14], [19, 20]]
    assert batches[2]["inputs"].tolist() == [[4, 5], [10, 11], [16, 17], [22, 23]]
    assert batches[0]["offset"].tolist() == [0, 6, 12, 18]
    assert batches[1]["offset"].tolist() == [2, 8, 14, 20]
    assert [b["reset"].tolist() for b in batches] == [[True] * 4, [False] * 4, [False] * 4]
    assert batches[0]["inputs"].dtype == torch.int64


def test_last_batch_is_shorter_and_tail_is_counted():
    ids = np.arange(27)  # 26 steps, 4 streams of 6: two steps unread
    streams = StreamBatches(ids[:-1], ids[1:], num_streams=4, seq_len=4)
    shapes = [tuple(b["inputs"].shape) for b in streams]
    assert shapes == [(4, 4), (4, 2)]
    assert streams.unread == 2


def test_consecutive_batches_continue_each_stream():
    ids = np.arange(101)
    streams = StreamBatches(ids[:-1], ids[1:], num_streams=3, seq_len=7)
    rows = torch.cat([b["inputs"] for b in streams], dim=1)  # (B, S)
    for b in range(3):
        assert rows[b].tolist() == list(range(b * 33, (b + 1) * 33))


def test_real_valued_streams_keep_features():
    x = np.random.default_rng(0).normal(size=(41, 3)).astype(np.float64)
    streams = StreamBatches(x[:-1], x[1:], num_streams=2, seq_len=5)
    batch = next(iter(streams))
    assert batch["inputs"].shape == (2, 5, 3) and batch["inputs"].dtype == torch.float32
    assert torch.allclose(batch["inputs"][1, 0], torch.from_numpy(x[20]).float())


def test_shards_for_two_ranks_are_disjoint_and_contiguous(small_text):
    data = char_data(small_text)
    ids = data.ids["train"]
    read = []
    for rank in range(2):
        data.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        steps = []
        for batch in data.train_dataloader():
            for row, offset in zip(batch["inputs"], batch["offset"], strict=True):
                span = range(int(offset), int(offset) + len(row))
                assert row.tolist() == ids[span.start : span.stop].tolist()
                steps.extend(span)
        read.append(sorted(steps))
    half = (len(ids) - 1) // 2
    assert read[0] == list(range(0, read[0][-1] + 1)) and read[0][-1] < half
    assert read[1] == list(range(half, read[1][-1] + 1)) and read[1][-1] < 2 * half
    assert not set(read[0]) & set(read[1])
    assert shard_bounds(len(ids) - 1, 1, 2, equal=False)[1] == len(ids) - 1


def test_dataloader_workers_keep_batch_order(small_text):
    data = char_data(small_text)
    inline = [b["offset"].tolist() for b in data.train_dataloader()]
    data.num_workers = 2
    assert [b["offset"].tolist() for b in data.train_dataloader()] == inline


def test_stateful_refuses_windows_per_epoch(small_text):
    with pytest.raises(ConfigError, match=r"data.windows_per_epoch' must be null with "):
        CharDataModule(small_text, stateful=True, windows_per_epoch=10)


# -- carried state ------------------------------------------------------------------------------
def test_state_is_carried_detached_and_reset(small_text):
    data = char_data(small_text)
    model = small_model(data)
    model.record = lambda *args: None  # no trainer to log to
    first, second = list(data.train_dataloader())[:2]
    model.shared_step(first, "train")
    carried = model.carried["train"]
    assert all(s.grad_fn is None and not s.requires_grad for s in carried)
    _, expected = model(first["inputs"])
    assert all(torch.equal(a, b.detach()) for a, b in zip(carried, expected, strict=True))

    # the second batch starts from the carried state; its gradient stops there
    loss = model.shared_step(second, "train")
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    outputs, _ = model(second["inputs"], tuple(s.clone() for s in carried))
    model.loss(outputs, second).backward()
    assert all(torch.allclose(a, p.grad) for a, p in zip(grads, model.parameters(), strict=True))

    # a stream restart zeroes its rows; a batch that restarts every stream starts from zeros
    restart = {**second, "reset": torch.tensor([False, True, False, True])}
    h, _ = model.carried.start(restart, "train", False)
    assert h[:, 1].abs().sum() == 0 and h[:, 3].abs().sum() == 0 and h[:, 0].abs().sum() > 0
    assert model.carried.start(first, "train", False) is None  # how every epoch starts


def test_each_epoch_starts_from_zero_state(small_text):
    data = char_data(small_text)
    model = small_model(data)
    seen = []

    class Probe(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            start = pl_module.carried.start(batch, "train", False)
            seen.append((trainer.current_epoch, batch_idx, start))

    quiet_trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=0,
                  callbacks=[Probe()]).fit(model, datamodule=data)
    assert [(e, i, s is None) for e, i, s in seen] == [
        (0, 0, True), (0, 1, False), (0, 2, False), (1, 0, True), (1, 1, False), (1, 2, False)]


def test_stateful_evaluation_equals_one_pass_over_the_split(small_text):
    data = char_data(small_text)
    model = small_model(data)
    quiet_trainer(max_epochs=1, limit_train_batches=5, limit_val_batches=0).fit(
        model, datamodule=data)
    result = quiet_trainer().validate(model, datamodule=data, verbose=False)[0]
    val = torch.as_tensor(data.ids["val"].astype(np.int64))
    with torch.no_grad():
        logits, _ = model.eval()(val[None, :-1])  # (1, N - 1, V): the whole split at once
    expected = nn.functional.cross_entropy(logits[0], val[1:])
    assert len(data.val_dataloader()) > 1
    assert result["val/loss"] == pytest.approx(float(expected), abs=1e-5)
    assert result["val/ppl"] == pytest.approx(float(expected.exp()), rel=1e-5)


def test_carried_state_is_saved_per_rank_and_refuses_another_rank_count():
    h, c = torch.randn(2, 4, 8), torch.randn(2, 4, 8)  # (layers, streams, hidden)
    saved = CarriedState()
    saved.keep("train", {"reset": torch.zeros(4, dtype=torch.bool)}, (h, c))
    checkpoint = {}
    saved.save(checkpoint, 2, lambda part: torch.stack([part, part + 1]))  # two ranks' states
    assert checkpoint[CARRIED_KEY]["parts"][0].shape == (2, 2, 4, 8)
    loaded = CarriedState()
    loaded.load(checkpoint, world_size=2, rank=1)
    assert torch.equal(loaded["train"][0], h + 1) and torch.equal(loaded["train"][1], c + 1)
    for world_size in (1, 4):
        with pytest.raises(CheckpointError) as error:
            CarriedState().load(checkpoint, world_size=world_size, rank=0)
        assert str(error.value) == ("the checkpoint carries the stateful streams of 2 rank(s); "
                                    f"resume it on 2, not {world_size}")


def test_resume_point_restarts_mid_epoch_on_as_many_ranks_only():
    point = ResumePoint()
    assert point.first_batch(SimpleNamespace(world_size=1, current_epoch=0)) == 0  # nothing saved
    point.load({"epoch": 1, "batches": 3, "world_size": 2})
    with pytest.raises(CheckpointError) as error:
        point.first_batch(SimpleNamespace(world_size=1, current_epoch=1))
    assert str(error.value) == ("the checkpoint stopped stateful training mid-epoch on 2 "
                                "rank(s); resume it on as many, not 1")
    point.load({"epoch": 1, "batches": 3, "world_size": 2})
    assert point.first_batch(SimpleNamespace(world_size=2, current_epoch=1)) == 3
    assert point.first_batch(SimpleNamespace(world_size=2, current_epoch=1)) == 0  # once only
    point.load({"epoch": 1, "batches": 3, "world_size": 2})
    assert point.first_batch(SimpleNamespace(world_size=2, current_epoch=2)) == 0  # a later epoch


def test_stateful_refuses_bidirectional_encoder():
    model = tagger(bidirectional=True)  # a language model refuses a backward direction anyway
    batch = {"inputs": torch.randn(2, 4, 3), "reset": torch.tensor([True, False])}
    with pytest.raises(ConfigError, match=r"model\.encoder\.bidirectional' must be false with"):
        model.step_outputs(batch, "train")


# -- chunked truncation with manual optimisation ------------------------------------------------
def test_chunks_step_the_optimiser_and_scheduler_by_hand(small_text):
    data = char_data(small_text)
    model = small_model(data, tbptt_steps=5, gradient_clip_val=0.5, scheduler_interval="step",
                        scheduler={"_target_": "torch.optim.lr_scheduler.StepLR",
                                   "_partial_": True, "step_size": 1, "gamma": 0.5})
    assert not model.automatic_optimization
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    chunks = 3 * 4  # 3 batches of 16 steps -> chunks of 5, 5, 5, 1
    assert trainer.global_step == chunks
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(2e-3 * 0.5**chunks)


class OptimizerSteps(L.Callback):
    """Records, at every optimiser step, the total gradient norm the step sees and the LR."""

    def __init__(self) -> None:
        self.norms: list[float] = []
        self.lrs: list[float] = []

    def on_train_start(self, trainer, pl_module):
        def record(optimizer, args, kwargs):
            grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                     if p.grad is not None]
            self.norms.append(float(torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(g) for g in grads]))))
            self.lrs.append(optimizer.param_groups[0]["lr"])

        trainer.optimizers[0].register_step_pre_hook(record)


@pytest.mark.parametrize("clip", [None, 0.05])
def test_chunks_clip_each_steps_gradient_norm(small_text, clip):
    data = char_data(small_text)
    model = small_model(data, tbptt_steps=5, gradient_clip_val=clip)
    probe = OptimizerSteps()
    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0,
                  callbacks=[probe]).fit(model, datamodule=data)
    assert len(probe.norms) == 2 * 4  # 16 steps per batch -> chunks of 5, 5, 5, 1
    if clip is None:  # unclipped, an untrained char LSTM's chunk gradients are far above 0.05
        assert min(probe.norms) > 4 * 0.05
    else:  # every chunk's step sees the clipped norm, not the raw one
        assert probe.norms == pytest.approx([clip] * 8, rel=1e-4)


def test_chunks_step_reduce_lr_on_plateau_on_the_validation_loss(small_text):
    """Under manual optimisation Lightning does not step a ReduceLROnPlateau: the TBPTT helper
    does, at each epoch's end, on that epoch's ``val/loss``. With an impossible improvement
    threshold every epoch after the first is a plateau, so the LR halves at each later epoch's
    end."""
    data = char_data(small_text)
    model = small_model(data, tbptt_steps=5, scheduler={
        "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "_partial_": True,
        "factor": 0.5, "patience": 0, "threshold": 1e9, "threshold_mode": "abs"})
    probe = OptimizerSteps()
    val_losses = []

    class ValLoss(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):  # after that epoch's validation
            val_losses.append(float(trainer.callback_metrics["val/loss"]))

    trainer = quiet_trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=2,
                            num_sanity_val_steps=0, callbacks=[probe, ValLoss()])
    trainer.fit(model, datamodule=data)
    # 2 batches x 4 chunks per epoch; the first epoch's end sets the best loss, each later one
    # halves the LR
    assert probe.lrs == [2e-3] * 16 + [1e-3] * 8
    assert trainer.optimizers[0].param_groups[0]["lr"] == 5e-4
    (scheduler,) = trainer.lr_scheduler_configs
    assert scheduler.scheduler.best == pytest.approx(val_losses[0])  # stepped on val/loss


def test_chunks_leave_reduce_lr_on_plateau_alone_without_a_validation_loss(small_text):
    data = char_data(small_text)
    model = small_model(data, tbptt_steps=8, scheduler={
        "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "_partial_": True,
        "factor": 0.5, "patience": 0, "threshold": 1e9, "threshold_mode": "abs"})
    trainer = quiet_trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    assert trainer.optimizers[0].param_groups[0]["lr"] == 2e-3


def test_chunks_refuse_trainer_clipping(small_text):
    data = char_data(small_text)
    model = small_model(data, tbptt_steps=4)
    with pytest.raises(MisconfigurationException, match="gradient_clip_val"):
        quiet_trainer(max_steps=1, gradient_clip_val=1.0).fit(model, datamodule=data)


def test_model_clipping_and_trainer_clipping_are_exclusive(small_text):
    data = char_data(small_text)
    model = small_model(data, gradient_clip_val=0.5)
    with pytest.raises(ConfigError, match=r"model\.gradient_clip_val' must be null when trainer"):
        quiet_trainer(max_steps=1, gradient_clip_val=1.0).fit(model, datamodule=data)


def test_stateful_experiment_config_trains(compose_train, small_text):
    cfg = compose_train("experiment=stateful_tinyshakespeare", f"data.path={small_text}",
                        "data.seq_len=32", "data.batch_size=4", "model.encoder.hidden_size=16",
                        "logger=[]", "callbacks=none", *FAST)
    assert cfg.data.stateful and cfg.model.tbptt_steps and cfg.trainer.gradient_clip_val is None
    metrics = train(cfg)
    assert 0 < metrics["val/loss"] < 10 and 0 < metrics["test/loss"] < 10


# -- a real two-process run ---------------------------------------------------------------------
@pytest.mark.slow
def test_ddp_two_cpu_processes_read_disjoint_shards(small_text, tmp_path):
    probe = tmp_path / "probe"
    run_cli(
        "train", "data=char", f"data.path={small_text}", "data.stateful=true", "data.seq_len=16",
        "data.batch_size=2", "model.encoder.hidden_size=16", "trainer.max_epochs=1",
        "+trainer.limit_train_batches=6",
        "+trainer.strategy=ddp_spawn", "trainer.devices=2", "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false", "~callbacks.rich_progress_bar",
        "+callbacks.record._target_=tests.helpers.probes.RecordStreams",
        f"+callbacks.record.folder={probe}", "sample.length=0", "test=false",
        f"paths.log_dir={tmp_path / 'logs'}", cwd=tmp_path, timeout=300)
    records = [json.loads((probe / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["rank"] for r in records] == [0, 1] and records[0]["pid"] != records[1]["pid"]
    spans = []
    for record in records:
        batches = np.array(record["batches"])  # (batches, B, 2): [start, stop) per row
        assert (batches[1:, :, 0] == batches[:-1, :, 1]).all()  # every row continues
        spans.append([(row[0, 0], row[-1, 1]) for row in batches.transpose(1, 0, 2)])
    flat = sorted(s for rank in spans for s in rank)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(flat))  # disjoint
    assert max(s[1] for s in spans[0]) <= min(s[0] for s in spans[1])  # rank 0's shard first

    runs = list((tmp_path / "logs" / "train" / "runs").iterdir())
    assert len(runs) == 1  # one output folder, made by rank 0
    files = sorted(str(p.relative_to(runs[0])) for p in runs[0].rglob("*") if p.is_file())
    assert not [f for f in files if "rank" in f or f.startswith(".pl_hydra")]
    assert sum(f.endswith(".ckpt") for f in files) == 2 and "csv/metrics.csv" in files
    assert "val/loss" in (runs[0] / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "probe", "small.txt"]
