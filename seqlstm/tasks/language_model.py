"""Character/token language model: embedding -> recurrent encoder -> (tied) decoder."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torchmetrics import MetricCollection

from seqlstm.errors import ConfigError, DataError, check_int, check_number
from seqlstm.nn import HiddenState, StepHead, TiedDecoder
from seqlstm.spec import IGNORE_INDEX, Vocabulary
from seqlstm.tasks.averaging import ParameterAverage, activation_penalty
from seqlstm.tasks.base import Batch, SequenceTask
from seqlstm.tasks.figures import loss_by_position
from seqlstm.tasks.metrics import BitsPerCharacter, Perplexity
from seqlstm.tokens import EOS, TextTokenizer, text_codec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


class LanguageModel(SequenceTask):
    """Predicts the next token at every step. Metrics: loss (nats/token), perplexity, bpc.

    Args:
        tie_weights: share the embedding matrix with the output layer.
        ar, tar: AWD-LSTM's activation and temporal activation regularisation (alpha, beta)
            on the encoder's outputs in training (:func:`~seqlstm.tasks.averaging.
            activation_penalty`); 0 turns each off.
        nt_asgd: the non-monotone interval of NT-ASGD (AWD-LSTM uses 5; use it with
            ``torch.optim.SGD``): once the validation loss fails to beat the best of the checks
            more than that many checks ago, a running average of the weights starts, and
            evaluation and checkpoints' test use it. None: off.
        **kwargs: see :class:`SequenceTask`.
    """

    def __init__(self, *args: Any, tie_weights: bool = False, ar: float = 0.0,
                 tar: float = 0.0, nt_asgd: int | None = None, **kwargs: Any) -> None:
        self.tie_weights = tie_weights
        super().__init__(*args, **kwargs)
        for key, value in (("ar", ar), ("tar", tar)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"model.task_options.next_token.{key}", "a number >= 0", value)
        self.ar, self.tar = float(ar), float(tar)
        self._outputs: torch.Tensor | None = None
        self.average = ParameterAverage(self, nt_asgd) if nt_asgd is not None else None
        if self.encoder.config.bidirectional:
            raise ConfigError("model.encoder.bidirectional", "false for a language model (a "
                              "backward direction would read the tokens it predicts)", True)
        if self.spec.input_kind != "tokens" or self.spec.target_kind != "next_token":
            raise ConfigError("data", "a token data module with next-token targets for a "
                              "language model", f"{self.spec.input_kind}->{self.spec.target_kind}")

    def build_head(self) -> nn.Module:
        if self.tie_weights:
            return TiedDecoder(self.embedding, self.encoder.output_size)
        return StepHead(self.encoder.output_size, self.spec.output_size)

    forward_is_head_of_encoder = True  # forward only keeps the features for AR/TAR

    def forward(self, inputs: torch.Tensor, state: HiddenState | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        features, state = self.features(inputs, state, lengths)  # (B, T, H)
        if self.training and (self.ar or self.tar):
            self._outputs = features  # for AR/TAR in the loss of this batch
        return self.head(features), state

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        # outputs: (B, T, V) logits; targets: (B, T) with IGNORE_INDEX where not scored
        loss = nn.functional.cross_entropy(outputs.flatten(0, 1), batch["targets"].flatten(),
                                           ignore_index=IGNORE_INDEX)
        if self.training and self._outputs is not None:
            loss = loss + activation_penalty(self._outputs, self.ar, self.tar)
            self._outputs = None
        return loss

    # -- NT-ASGD: average the weights once validation stops improving -----------------------
    def on_train_batch_end(self, outputs: Any, batch: Batch, batch_idx: int) -> None:
        if self.average is not None:
            self.average.update()

    def on_validation_epoch_start(self) -> None:
        if self.average is not None:
            self.average.swap()  # evaluate with the averaged weights

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self.average is None:
            return
        self.average.swap()
        if (not self.trainer.sanity_checking and self.val_loss.update_called
                and self.average.observe(float(self.val_loss.compute()))):
            log.info("NT-ASGD: validation loss stopped improving at epoch %d; averaging "
                         "the weights from now on", self.current_epoch)
        self.log("val/asgd_averaging", float(self.average.averaging))

    def on_test_epoch_start(self) -> None:
        if self.average is not None:
            self.average.swap()

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        if self.average is not None:
            self.average.swap()

    def batch_weight(self, batch: Batch) -> int:
        return int((batch["targets"] != IGNORE_INDEX).sum())

    def build_metrics(self, stage: str) -> MetricCollection:
        return MetricCollection({"ppl": Perplexity(), "bpc": BitsPerCharacter()})

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        metrics.update(loss.detach(), weight=self.batch_weight(batch))

    # -- what the tracking callbacks show ---------------------------------------------------
    def validation_samples(self, count: int, length: int, seed: int) -> list[tuple[str, str]]:
        prompt = self.default_prompt()
        return [(prompt, text) for text in self.generate_text(prompt, length, num_samples=count,
                                                              seed=seed, temperature=0.8)]

    def validation_figures(self, batch: Batch) -> dict[str, Figure]:
        outputs, _ = self(batch["inputs"])  # (B, T, V)
        targets = batch["targets"]  # (B, T)
        losses = nn.functional.cross_entropy(outputs.transpose(1, 2), targets,
                                             ignore_index=IGNORE_INDEX, reduction="none")
        losses = losses.masked_fill(targets == IGNORE_INDEX, float("nan"))  # (B, T)
        return {"loss_by_position": loss_by_position(losses, self.current_epoch)}

    # -- generation -----------------------------------------------------------------------
    @property
    def vocabulary(self) -> Vocabulary | TextTokenizer:
        """The codec of the model's tokens: the character vocabulary, or the word/subword
        tokenizer that ``spec.extra["tokenizer"]`` carries."""
        codec = text_codec(self.spec.vocab, self.spec.extra)
        if codec is None:
            raise DataError("this model's data spec carries no vocabulary")
        return codec

    @torch.inference_mode()
    def generate(self, prompt: torch.Tensor, length: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample ``length`` tokens after ``prompt`` ``(B, T0)``; returns ``(B, length)``.

        The prompt is read once; then each new token costs one recurrent step, because the
        hidden state is carried forward instead of re-running the prefix.
        """
        check_sampling(temperature, top_k, top_p)
        was_training = self.training
        self.eval()
        logits, state = self(prompt.to(self.device))  # (B, T0, V)
        next_logits = logits[:, -1]
        tokens = []
        for _ in range(length):
            token = sample_next(next_logits, temperature, top_k, top_p, generator)  # (B, 1)
            tokens.append(token)
            next_logits, state = self.step(token, state)
        self.train(was_training)
        return torch.cat(tokens, dim=1) if tokens else prompt.new_empty(prompt.size(0), 0)

    def default_prompt(self) -> str:
        """A newline (or the ``<eos>`` of word corpora) when the vocabulary has one, else its
        last token."""
        vocab = self.spec.vocab or []
        return next((t for t in ("\n", EOS) if t in vocab), vocab[-1])

    def generate_text(self, prompt: str, length: int, num_samples: int = 1,
                      seed: int | None = None, **sampling: Any) -> list[str]:
        """``num_samples`` continuations of ``prompt`` (at least one character)."""
        if not prompt:
            raise DataError("the prompt is empty; give at least one character to start from")
        check_int("num_samples", num_samples, 1)
        check_int("length", length, 0)
        vocabulary = self.vocabulary
        if isinstance(vocabulary, TextTokenizer):
            ids = vocabulary.encode_batch([prompt])[0]
            if not len(ids) or (ids == vocabulary.unk_id).any():
                raise DataError(f"prompt: {prompt!r} has tokens outside the vocabulary (or "
                                "none at all)")
        else:
            try:
                ids = vocabulary.encode(prompt, unknown="error")
            except DataError as err:
                raise DataError(f"prompt: {err}") from None
        prompt_ids = torch.as_tensor(ids.astype("int64")).unsqueeze(0).repeat(num_samples, 1)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(seed)
        out = self.generate(prompt_ids, length, generator=generator, **sampling)
        if not isinstance(vocabulary, TextTokenizer):
            return [vocabulary.decode(row) for row in out.cpu().numpy()]
        # words and subwords: decode prompt + continuation, so the spacing between them is the
        # tokenizer's; the continuation is what follows the decoded prompt
        head = vocabulary.decode(ids)
        return [vocabulary.decode([*ids, *row])[len(head):].replace(f" {EOS}", "\n")
                for row in out.cpu().numpy()]


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    check_number("temperature", temperature, 0, low_open=True)
    check_int("top_k", top_k, 1, optional=True)
    check_number("top_p", top_p, 0, 1, low_open=True, optional=True)


def sample_next(logits: torch.Tensor, temperature: float, top_k: int | None,
                top_p: float | None, generator: torch.Generator | None) -> torch.Tensor:
    """Sample one id per row of ``logits`` ``(B, V)``; returns ``(B, 1)``."""
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative - sorted_logits.softmax(-1) >= top_p  # keep the first over p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)
