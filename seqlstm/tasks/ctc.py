"""Transcription with CTC: a label sequence shorter than the input, without alignment.

``encoder -> linear`` gives, at every stacked frame, scores over the output units plus a blank
(the last class); :class:`torch.nn.CTCLoss` sums over every alignment of the labels (Graves et
al. 2006). Decoding is greedy (best path) or prefix beam search; character and word error
rates come from torchmetrics, on the text the unit ids decode to: characters joined, or
subword ids through the tokenizer that ``spec.extra["tokenizer"]`` carries.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.text import CharErrorRate, WordErrorRate

from seqlstm.errors import ConfigError
from seqlstm.nn import EncoderConfig, HiddenState, RecurrentEncoder, StepHead
from seqlstm.nn.ctc import FrameStack, Lexicon, beam_decode, greedy_decode
from seqlstm.spec import IGNORE_INDEX
from seqlstm.tasks.base import Batch, SequenceTask
from seqlstm.tokens import TextTokenizer

DECODERS = ("greedy", "beam")


class CTCRecognizer(SequenceTask):
    """A recurrent CTC recogniser over real feature frames (log-mels, MFCCs).

    Args:
        stack: concatenate this many consecutive frames into one encoder step (shortens the
            sequence ``stack`` times; every clip must keep more steps than labels).
        decoder: what :meth:`predict_step` uses, ``greedy`` or ``beam``.
        beam_width: prefix beam search width (test metrics ``*_beam`` and ``decoder: beam``).
        lexicon: a word list that beam search keeps to (words separated by the unit ``" "``);
            None: any labelling.
        pack: give the encoder the batch's lengths (None: only for a bidirectional encoder,
            whose backward direction must not read padding).
        **kwargs: see :class:`SequenceTask`.
    """

    def __init__(self, *args: Any, stack: int = 1, decoder: str = "greedy",
                 beam_width: int = 8, lexicon: list[str] | None = None,
                 pack: bool | None = None, **kwargs: Any) -> None:
        key = "model.task_options.label_sequence"
        if isinstance(stack, bool) or not isinstance(stack, int) or stack < 1:
            raise ConfigError(f"{key}.stack", "an integer >= 1", stack)
        if decoder not in DECODERS:
            raise ConfigError(f"{key}.decoder", f"one of {list(DECODERS)}", decoder)
        if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
            raise ConfigError(f"{key}.beam_width", "an integer >= 1", beam_width)
        if pack not in (None, True, False):
            raise ConfigError(f"{key}.pack", "true, false or null", pack)
        self.stack, self.decoder, self.beam_width = stack, decoder, beam_width
        super().__init__(*args, **kwargs)
        if self.spec.target_kind != "label_sequence" or self.spec.input_kind != "real":
            raise ConfigError("data", "a data module with real inputs and 'label_sequence' "
                              "targets for a CTCRecognizer",
                              [self.spec.input_kind, self.spec.target_kind])
        self.embedding = FrameStack(stack)  # what export and streaming apply before the encoder
        self.packs = self.encoder.config.bidirectional if pack is None else pack
        self.blank = self.spec.output_size
        self.ctc = nn.CTCLoss(blank=self.blank, zero_infinity=True)
        carried = self.spec.extra.get("tokenizer")
        self.tokenizer = TextTokenizer.from_extra(dict(carried)) if carried else None
        self.lexicon = self.build_lexicon(lexicon, f"{key}.lexicon")

    def build_lexicon(self, words: list[str] | None, key: str) -> Lexicon | None:
        """The :class:`Lexicon` of ``words`` over this model's units."""
        if words is None:
            return None
        if self.tokenizer is not None:
            raise ConfigError(key, "null for subword output units (a lexicon spells words "
                              "in characters: data.tokenizer=char)", words)
        ids = {unit: i for i, unit in enumerate(self.spec.labels)}
        if isinstance(words, str) or not words \
                or any(not w or set(w) - set(ids) or " " in w for w in words):
            raise ConfigError(key, f"a list of words written in the units {''.join(ids)!r}",
                              words)
        return Lexicon([tuple(ids[ch] for ch in w) for w in words], ids.get(" "))

    def build_encoder(self, input_size: int, config: EncoderConfig) -> RecurrentEncoder:
        return RecurrentEncoder(input_size * self.stack, config)

    def build_head(self) -> nn.Module:
        return StepHead(self.encoder.output_size, self.spec.output_size + 1)  # units + blank

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.embedding(inputs)  # (B, T, F) -> (B, T / stack, stack * F)

    def features(self, inputs: torch.Tensor, state: HiddenState | None = None,
                 lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        stacked = self.stacked_lengths(lengths) if lengths is not None and self.packs else None
        return self.encoder(self.embed(inputs), state, stacked)

    def stacked_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Encoder steps of clips ``lengths`` frames long."""
        return self.embedding.lengths(lengths)

    # -- loss and metrics -------------------------------------------------------------------
    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        steps = self.stacked_lengths(batch["lengths"])
        labels = batch["target_lengths"]
        if bool((steps < labels).any()):
            row = int((steps < labels).nonzero()[0, 0])
            raise ConfigError("model.task_options.label_sequence.stack", "small enough that "
                              f"every clip keeps at least one step per label (a clip of "
                              f"{int(batch['lengths'][row])} frames has {int(labels[row])} "
                              "labels)", self.stack)
        log_probs = outputs.float().log_softmax(-1).transpose(0, 1)  # (T', B, C + 1)
        targets = batch["targets"].clamp(min=0)  # padding past target_lengths is not read
        return self.ctc(log_probs, targets, steps, labels)

    def build_metrics(self, stage: str) -> MetricCollection:
        if stage == "train":
            return MetricCollection({})
        metrics = {"cer": CharErrorRate(), "wer": WordErrorRate()}
        if stage == "test":
            metrics.update({"cer_beam": CharErrorRate(), "wer_beam": WordErrorRate()})
        return MetricCollection(metrics)

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        if not metrics:
            return
        outputs = outputs.detach()
        steps = self.stacked_lengths(batch["lengths"])
        truth = [self.text(row[row != IGNORE_INDEX].tolist()) for row in batch["targets"].cpu()]
        greedy = [self.text(ids) for ids in greedy_decode(outputs, steps, self.blank)]
        metrics["cer"].update(greedy, truth)
        metrics["wer"].update(greedy, truth)
        if "cer_beam" in metrics:
            beam = [self.text(ids) for ids in beam_decode(outputs.log_softmax(-1), steps,
                                                          self.blank, self.beam_width,
                                                          self.lexicon)]
            metrics["cer_beam"].update(beam, truth)
            metrics["wer_beam"].update(beam, truth)

    # -- decoding ---------------------------------------------------------------------------
    def text(self, ids: list[int]) -> str:
        """Unit ids -> the transcript."""
        if self.tokenizer is not None:
            return self.tokenizer.decode(ids)
        units = self.spec.labels
        return "".join(units[i] for i in ids)

    def decode(self, outputs: torch.Tensor, steps: torch.Tensor | None,
               decoder: str | None = None) -> list[list[int]]:
        """Unit ids of each sequence of head outputs ``(B, T', C + 1)``."""
        if (decoder or self.decoder) == "beam":
            return beam_decode(outputs.log_softmax(-1), steps, self.blank, self.beam_width,
                               self.lexicon)
        return greedy_decode(outputs, steps, self.blank)

    def predict_step(self, batch: Batch, batch_idx: int = 0) -> dict[str, torch.Tensor]:
        """``tokens`` ``(B, S)`` unit ids (``IGNORE_INDEX`` after each transcript's end)."""
        outputs, _ = self(batch["inputs"], lengths=batch.get("lengths"))
        steps = self.stacked_lengths(batch["lengths"]) if "lengths" in batch else None
        decoded = self.decode(outputs, steps)
        tokens = torch.full((len(decoded), max([len(d) for d in decoded], default=0)),
                            IGNORE_INDEX, dtype=torch.long)
        for row, ids in enumerate(decoded):
            tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return {"tokens": tokens}
