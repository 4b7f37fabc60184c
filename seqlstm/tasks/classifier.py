"""Sequence classification (one class per sequence) and tagging (one label per step).

:class:`Classifier` is the classic many-to-one ``LSTM -> Dense softmax``; :class:`Tagger` is its
many-to-many sibling. Both take class weights, report accuracy and macro F1 as scalars, and keep
each epoch's validation/test confusion matrix in :attr:`LabelTask.confusion_matrices`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from seqlstm.errors import ConfigError, is_number
from seqlstm.nn import POOLINGS, HiddenState, PooledHead, StepHead
from seqlstm.spec import IGNORE_INDEX, SPLITS
from seqlstm.tasks.base import Batch, SequenceTask
from seqlstm.tasks.figures import confusion_matrix
from seqlstm.tasks.spans import SpanScores, is_bio

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ClassWeights = Sequence[float] | str | None


class LabelTask(SequenceTask):
    """What a classifier and a tagger share: weighted cross-entropy, metrics, predictions.

    Args:
        class_weights: one positive weight per class, ``balanced`` (inverse class frequency
            from the data's ``spec.extra['class_counts']``) or None (all 1).
        pack: give the encoder the batch's ``lengths`` so it packs the sequences. None (auto)
            packs only for a bidirectional encoder: a forward-only encoder reads the padding
            after the valid steps, so its outputs there are the same either way (pooling and
            the loss skip padded steps), and on CPU a padded run trains several times faster
            than a packed one (see docs/benchmarks.md).
        **kwargs: see :class:`SequenceTask`.
    """

    target_kind = ""
    option_key = ""
    forward_is_head_of_encoder = True  # forward only adds packing by lengths

    def __init__(self, *args: Any, class_weights: ClassWeights = None,
                 pack: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if pack not in (None, True, False):
            raise ConfigError(f"model.task_options.{self.option_key}.pack",
                              "true, false or null (pack only a bidirectional encoder)", pack)
        self.packs = self.encoder.config.bidirectional if pack is None else pack
        if self.spec.target_kind != self.target_kind:
            raise ConfigError("data", f"a data module with '{self.target_kind}' targets for a "
                              f"{type(self).__name__}", self.spec.target_kind)
        weights = resolve_class_weights(class_weights, self.spec.output_size,
                                        self.spec.extra.get("class_counts"),
                                        f"model.task_options.{self.option_key}.class_weights")
        self.register_buffer("class_weights", weights, persistent=False)
        self.val_confusion = MulticlassConfusionMatrix(self.spec.output_size,
                                                       ignore_index=IGNORE_INDEX)
        self.test_confusion = MulticlassConfusionMatrix(self.spec.output_size,
                                                        ignore_index=IGNORE_INDEX)
        #: the confusion matrix ``(C, C)`` (rows: true class) of the last val/test epoch
        self.confusion_matrices: dict[str, torch.Tensor] = {}

    def forward(self, inputs: torch.Tensor, state: HiddenState | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        features, state = self.features(inputs, state, lengths if self.packs else None)
        return self.apply_head(features, lengths), state

    def apply_head(self, features: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """Encoder features ``(B, T, D * H)`` -> logits."""
        raise NotImplementedError

    def logits(self, outputs: torch.Tensor) -> torch.Tensor:
        """Outputs flattened to ``(N, C)`` rows, one per scored prediction."""
        return outputs.reshape(-1, outputs.size(-1))

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(self.logits(outputs), batch["targets"].flatten(),
                                           weight=self.class_weights, ignore_index=IGNORE_INDEX)

    def batch_weight(self, batch: Batch) -> int:
        return int((batch["targets"] != IGNORE_INDEX).sum())

    def build_metrics(self, stage: str) -> MetricCollection:
        classes = self.spec.output_size
        return MetricCollection({
            "acc": MulticlassAccuracy(classes, average="micro", ignore_index=IGNORE_INDEX),
            "f1_macro": MulticlassF1Score(classes, average="macro", ignore_index=IGNORE_INDEX),
        })

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        preds, targets = self.logits(outputs).detach(), batch["targets"].flatten()
        metrics.update(preds, targets)
        confusion = getattr(self, f"{self._stage(metrics)}_confusion", None)
        if confusion is not None:
            confusion.update(preds, targets)

    def _stage(self, metrics: MetricCollection) -> str:
        return next(s for s in SPLITS if getattr(self, f"{s}_metrics") is metrics)

    def validation_figures(self, batch: Batch) -> dict[str, Figure]:
        """The confusion matrix of the validation epoch so far (the media callback asks at the
        epoch's end, before it is reset)."""
        confusion: MulticlassConfusionMatrix = self.val_confusion
        counts = confusion.compute() if confusion.update_called \
            else self.confusion_matrices.get("val")
        if counts is None:
            return {}
        labels = self.spec.label_names
        return {"confusion_matrix": confusion_matrix(counts, labels, self.current_epoch)}

    def _keep_confusion(self, stage: str) -> None:
        confusion: MulticlassConfusionMatrix = getattr(self, f"{stage}_confusion")
        if confusion.update_called:
            self.confusion_matrices[stage] = confusion.compute().cpu()
        confusion.reset()

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self._keep_confusion("val")

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self._keep_confusion("test")

    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """Class ids and probabilities (plus ``lengths`` for variable-length batches)."""
        outputs, _ = self(batch["inputs"], lengths=batch.get("lengths"))
        probs = outputs.softmax(-1)
        result = {"class": probs.argmax(-1), "probs": probs}
        if "lengths" in batch:
            result["lengths"] = batch["lengths"]
        return result

    @property
    def labels(self) -> list[str]:
        """Class names by id (``0``, ``1``... when the data named none)."""
        return self.spec.label_names


class Classifier(LabelTask):
    """One class per sequence: encoder -> pooling (last/mean/max) -> linear -> softmax.

    Args:
        pooling: ``last`` (each sequence's true last step; for a bidirectional encoder the
            backward direction's output at step 0), ``mean`` or ``max`` over valid steps.
        **kwargs: ``class_weights`` and :class:`SequenceTask`'s arguments.
    """

    target_kind = "class"
    option_key = "class"

    def __init__(self, *args: Any, pooling: str = "last", **kwargs: Any) -> None:
        if pooling not in POOLINGS:
            raise ConfigError("model.task_options.class.pooling", f"one of {list(POOLINGS)}",
                              pooling)
        self.pooling = pooling
        super().__init__(*args, **kwargs)

    @property
    def per_step_outputs(self) -> bool:
        return False

    def build_head(self) -> nn.Module:
        return PooledHead(self.encoder.output_size, self.spec.output_size, self.pooling,
                          self.encoder.config.num_directions)

    def apply_head(self, features: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        return self.head(features, lengths)  # (B, C)


class Tagger(LabelTask):
    """One label per step: encoder -> linear at every step. Padded steps are not scored.

    With BIO labels (``O``, ``B-X``, ``I-X``) validation and test also log span-level
    ``span_precision``, ``span_recall`` and ``span_f1`` (:mod:`seqlstm.tasks.spans`).
    """

    target_kind = "step_class"
    option_key = "step_class"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bio = is_bio(self.labels)
        self.val_spans = SpanScores(self.labels) if bio else None
        self.test_spans = SpanScores(self.labels) if bio else None

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        super().update_metrics(metrics, outputs, batch, loss)
        spans = getattr(self, f"{self._stage(metrics)}_spans", None)
        if spans is not None:
            spans.update(outputs.argmax(-1).detach(), batch["targets"])  # (B, T) ids

    def log_epoch_metrics(self, stage: str) -> None:
        super().log_epoch_metrics(stage)
        spans = getattr(self, f"{stage}_spans", None)
        if spans is not None and spans.update_called:
            self.log_dict({f"{stage}/{k}": v for k, v in spans.compute().items()})
            spans.reset()

    def build_head(self) -> nn.Module:
        return StepHead(self.encoder.output_size, self.spec.output_size)

    def apply_head(self, features: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        return self.head(features)  # (B, T, C); padded steps are not scored


def resolve_class_weights(weights: ClassWeights, num_classes: int,
                          counts: Sequence[int] | None, key: str) -> torch.Tensor | None:
    """A ``(C,)`` weight tensor from a list, ``balanced`` (needs ``counts``) or None."""
    if weights is None:
        return None
    if weights == "balanced":
        if not counts or len(counts) != num_classes or min(counts) < 1:
            raise ConfigError(key, "a list of weights or null: 'balanced' needs the data's "
                              "class_counts with every class present", weights)
        total = sum(counts)
        return torch.tensor([total / (num_classes * c) for c in counts], dtype=torch.float32)
    if isinstance(weights, str) or len(weights) != num_classes \
            or any(not is_number(w) or w <= 0
                   for w in weights):
        raise ConfigError(key, f"{num_classes} positive numbers, 'balanced' or null", weights)
    return torch.tensor([float(w) for w in weights], dtype=torch.float32)
