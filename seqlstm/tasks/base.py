"""The base LightningModule: input layer, encoder, shared step, metrics and optimisers.

Subclasses define their head, loss and metrics (:meth:`build_head`, :meth:`loss`,
:meth:`build_metrics`, :meth:`update_metrics`); a task whose batches carry more than ``inputs``
(a forecaster's known-future covariates) also overrides :meth:`step_outputs`, and tasks that
predict new data override ``predict_step`` (the prediction contract in :mod:`seqlstm.spec`).
Constructor arguments are plain data (the data spec, the encoder and optimiser configs), so
checkpoints load with ``weights_only=True``.

Where state lives: :attr:`SequenceTask.carried` (a :class:`~seqlstm.tasks.carried.CarriedState`)
holds the hidden state of stateful streams between batches, and :attr:`SequenceTask.tbptt` (a
:class:`~seqlstm.tasks.tbptt.TruncatedBPTT`, when ``tbptt_steps`` is set) trains long batches
in chunks under manual optimisation. :meth:`SequenceTask.step` is the one-step call that
generation, streaming and export build on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch import nn
from torchmetrics import MeanMetric, MetricCollection

from seqlstm import runtime
from seqlstm.errors import ConfigError, check_int, check_number
from seqlstm.nn import EncoderConfig, HiddenState, RecurrentEncoder, embedding_dropout
from seqlstm.spec import DataSpec
from seqlstm.targets import qualified_name, resolve_class
from seqlstm.tasks.carried import CarriedState
from seqlstm.tasks.tbptt import TruncatedBPTT
from seqlstm.tasks.versions import stamp_format

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Batch = Mapping[str, torch.Tensor]
DEFAULT_OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 2e-3}
CHECKPOINT_TASK_KEY = "seqlstm_task"


class SequenceTask(L.LightningModule):
    """A recurrent model for one kind of target, built from a :class:`DataSpec`.

    Args:
        spec: the data module's spec (``DataSpec.as_dict()``).
        encoder: :class:`EncoderConfig` fields.
        optimizer: a Hydra ``_partial_`` config of a ``torch.optim.Optimizer``.
        scheduler: a Hydra ``_partial_`` config of an LR scheduler, or None.
        scheduler_interval: ``epoch`` or ``step``.
        embedding_dim: embedding width for token inputs.
        embedding_dropout: probability of dropping a whole token type's embedding.
        data: the data config that produced ``spec``; travels in checkpoints for evaluation.
        tbptt_steps: cut each training batch into chunks of this many steps, one optimiser step
            each (manual optimisation; see :mod:`seqlstm.tasks.tbptt`). None: whole batches.
        gradient_clip_val: clip the gradient norm to this (with ``tbptt_steps``, where Lightning
            refuses ``trainer.gradient_clip_val``, this is the way to clip).
    """

    def __init__(
        self,
        spec: dict[str, Any],
        encoder: dict[str, Any],
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        scheduler_interval: str = "epoch",
        embedding_dim: int = 64,
        embedding_dropout: float = 0.0,
        data: dict[str, Any] | None = None,
        tbptt_steps: int | None = None,
        gradient_clip_val: float | None = None,
    ) -> None:
        super().__init__()
        with runtime.gc_paused():  # copies the spec: a list per series of a forecast table
            self.save_hyperparameters()
        self.spec = DataSpec.from_dict(dict(spec))
        if encoder.get("init") == "chrono" and encoder.get("max_delay") is None:
            encoder = {**encoder, "max_delay": self.spec.extra.get("max_delay")}
        try:
            config = EncoderConfig(**encoder)
        except ConfigError as err:
            raise err.within("model.encoder") from None
        except TypeError as err:
            raise ConfigError("model.encoder", f"only {EncoderConfig.__dataclass_fields__.keys()}",
                              sorted(encoder)) from err
        if scheduler_interval not in ("epoch", "step"):
            raise ConfigError("model.scheduler_interval", "'epoch' or 'step'", scheduler_interval)
        check_int("model.tbptt_steps", tbptt_steps, 1, optional=True)
        check_number("model.gradient_clip_val", gradient_clip_val, 0, low_open=True,
                     optional=True)
        self.automatic_optimization = tbptt_steps is None
        #: the hidden state of stateful streams, carried from batch to batch
        self.carried = CarriedState()
        #: chunked truncated BPTT (manual optimisation), when ``tbptt_steps`` is set
        self.tbptt = TruncatedBPTT(tbptt_steps, gradient_clip_val) if tbptt_steps else None
        check_number("model.embedding_dropout", embedding_dropout, 0, 1, high_open=True)
        if self.spec.input_kind == "tokens":
            check_int("model.embedding_dim", embedding_dim, 1)
            self.embedding: nn.Embedding | None = nn.Embedding(self.spec.input_size, embedding_dim)
            input_width = embedding_dim
        else:
            self.embedding = None
            input_width = self.spec.input_size
        self.encoder = self.build_encoder(input_width, config)
        self.head = self.build_head()
        self.train_metrics = self.build_metrics("train")
        self.val_metrics = self.build_metrics("val")
        self.test_metrics = self.build_metrics("test")
        # token-weighted epoch means of the loss: exact across DDP ranks (sum and weight synced)
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    # -- what subclasses may replace -------------------------------------------------------
    def build_encoder(self, input_size: int, config: EncoderConfig) -> RecurrentEncoder:
        """The recurrent encoder over ``(B, T, input_size)`` inputs (a subclass may return its
        own :class:`RecurrentEncoder` subclass)."""
        return RecurrentEncoder(input_size, config)

    # -- what subclasses define -------------------------------------------------------------
    def build_head(self) -> nn.Module:
        """The module mapping encoder features ``(B, T, H)`` to outputs."""
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def build_metrics(self, stage: str) -> MetricCollection:
        return MetricCollection({})

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        """Feed one batch to ``metrics``; the default does nothing."""

    def step_outputs(self, batch: Batch, stage: str = "predict") -> torch.Tensor:
        """The head's outputs for a batch of ``stage``, starting from (and keeping) the carried
        state when the batch continues stateful streams; override when a task reads more than
        ``inputs``."""
        state = self.carried.start(batch, stage, self.encoder.config.bidirectional)
        outputs, state = self(batch["inputs"], state, lengths=batch.get("lengths"))
        self.carried.keep(stage, batch, state)
        return outputs

    def batch_weight(self, batch: Batch) -> int:
        """How many predictions a batch scores: the weight of its loss in epoch means."""
        return batch["targets"].size(0)

    # -- what the tracking callbacks show each validation epoch (optional) -------------------
    def validation_samples(self, count: int, length: int, seed: int) -> list[tuple[str, str]]:
        """``count`` ``(prompt, sample)`` pairs of ``length`` tokens to log as text; none here."""
        return []

    def validation_figures(self, batch: Batch) -> dict[str, Figure]:
        """Named matplotlib figures made from the first validation batch; none here."""
        return {}

    # -- what export needs to know (seqlstm.export) ----------------------------------------
    @property
    def per_step_outputs(self) -> bool:
        """Whether the head answers at every step ``(B, T, ...)`` (True here) or once per
        sequence or chunk (a classifier's ``(B, C)``, a direct forecaster's horizon)."""
        return True

    #: a subclass whose ``forward`` still computes ``head(encoder(embed(inputs), state))`` when
    #: given no lengths (e.g. one that only adds packing) sets this to True
    forward_is_head_of_encoder = False

    def export_inputs(self) -> dict[str, list[int | str]]:
        """Inputs the head reads besides the encoder's features (name -> shape), passed after
        the state in exported models; none here."""
        return {}

    #: names among :meth:`export_inputs` that are int64 (the others are float32)
    integer_export_inputs: tuple[str, ...] = ()

    def export_network(self) -> nn.Module | None:
        """A module computing ``(inputs, state, *export_inputs) -> (outputs, state)`` for
        export, when the task does more than ``head(encoder(embed(inputs), state), *extra)``
        (None: that)."""
        return None

    def export_refusal(self) -> str | None:
        """Why this task cannot be exported as ``head(encoder(embed(inputs), state),
        *export_inputs)``, or None."""
        if type(self).forward is not SequenceTask.forward and not self.forward_is_head_of_encoder:
            return (f"{type(self).__name__} overrides forward(); export covers tasks that "
                    "compute head(encoder(embed(inputs), state))")
        return None

    # -- the shared parts -------------------------------------------------------------------
    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` ids -> ``(B, T, E)``, or real ``(B, T, F)`` unchanged."""
        if self.embedding is None:
            return inputs
        return embedding_dropout(self.embedding, inputs, self.hparams.embedding_dropout,
                                 self.training)

    def features(self, inputs: torch.Tensor, state: HiddenState | None = None,
                 lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        """Encoder features ``(B, T, H)`` and the final state."""
        return self.encoder(self.embed(inputs), state, lengths)

    def forward(self, inputs: torch.Tensor, state: HiddenState | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        features, state = self.features(inputs, state, lengths)
        return self.head(features), state

    def shared_step(self, batch: Batch, stage: str) -> torch.Tensor:
        outputs = self.step_outputs(batch, stage)
        loss = self.loss(outputs, batch)
        self.record(stage, outputs, batch, loss)
        return loss

    def record(self, stage: str, outputs: torch.Tensor, batch: Batch, loss: torch.Tensor) -> None:
        """Update the metrics with one batch; only the training loss is logged per step (the
        metric objects are logged once, at the epoch's end: see :meth:`log_epoch_metrics`)."""
        metrics: MetricCollection = getattr(self, f"{stage}_metrics")
        self.update_metrics(metrics, outputs, batch, loss)
        if stage == "train":
            self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                     batch_size=self.batch_weight(batch))
        else:
            mean: MeanMetric = getattr(self, f"{stage}_loss")
            mean.update(loss.detach(), weight=self.batch_weight(batch))

    def log_epoch_metrics(self, stage: str) -> None:
        """Log ``stage``'s metric objects (and its weighted loss mean outside training) for
        Lightning to compute, sync across ranks and reset at the epoch's end. Logging a metric
        object costs about as much as a small LSTM layer's step on CPU, so it happens here,
        once per epoch, not in every step."""
        if stage != "train":
            self.log(f"{stage}/loss", getattr(self, f"{stage}_loss"), on_epoch=True,
                     prog_bar=True)
        metrics: MetricCollection = getattr(self, f"{stage}_metrics")
        if metrics:
            self.log_dict({f"{stage}/{name}": m for name, m in metrics.items()},
                          on_step=False, on_epoch=True)

    def on_train_epoch_end(self) -> None:
        if self.tbptt is not None:
            self.tbptt.step_schedulers(self, "epoch")
        self.log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self.log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self.log_epoch_metrics("test")

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        if self.tbptt is not None:
            return self.tbptt.training_step(self, batch)
        return self.shared_step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self.shared_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self.shared_step(batch, "test")

    def configure_optimizers(self) -> Any:
        config = dict(self.hparams.optimizer or DEFAULT_OPTIMIZER)
        resolve_class(config.get("_target_", ""), torch.optim.Optimizer, "model.optimizer._target_")
        optimizer = instantiate(config)(params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler_config = dict(self.hparams.scheduler)
        resolve_class(scheduler_config.get("_target_", ""), torch.optim.lr_scheduler.LRScheduler,
                      "model.scheduler._target_")
        scheduler = instantiate(scheduler_config)(optimizer=optimizer)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss",
                                 "interval": self.hparams.scheduler_interval}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_TASK_KEY] = qualified_name(type(self))
        stamp_format(checkpoint)
        self.carried.save(checkpoint, self.trainer.world_size, self.all_gather)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) \
            if self._trainer is not None else (1, 0)
        self.carried.load(checkpoint, world_size, rank)

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer,
                                    gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Automatic optimisation: clip with ``model.gradient_clip_val`` or the trainer's."""
        own = self.hparams.gradient_clip_val
        if own is not None and gradient_clip_val is not None:
            raise ConfigError("model.gradient_clip_val", "null when trainer.gradient_clip_val is "
                              "set (clip in one place)", own)
        if own is not None:
            gradient_clip_val, gradient_clip_algorithm = own, "norm"
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    # -- one step at a time -------------------------------------------------------------------
    def step(self, inputs: torch.Tensor, state: HiddenState | None
             ) -> tuple[torch.Tensor, HiddenState]:
        """One recurrent step: ``(B, 1)`` ids or ``(B, 1, F)`` features -> the prediction after
        it ``(B, ...)`` (the head's output at this step, or its answer for the sequence so far
        when it answers once per sequence) and the new state."""
        outputs, state = self(inputs, state)
        return (outputs[:, -1] if self.per_step_outputs else outputs), state

    def predict_step(self, batch: Batch, batch_idx: int = 0) -> Any:
        """The head's outputs for every step of ``batch["inputs"]``, from a zero state. Tasks
        that predict new data through ``seqlstm-predict`` override this and return named
        tensors in original units (the prediction contract in :mod:`seqlstm.spec`)."""
        outputs, _ = self(batch["inputs"], lengths=batch.get("lengths"))
        return outputs
