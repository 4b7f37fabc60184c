"""Trainer-free inference: load a checkpoint once, answer under ``torch.inference_mode``.

* :class:`Predictor` wraps a trained task: :meth:`~Predictor.predict` gives what
  ``Trainer.predict`` gives (the head's outputs at every step), :meth:`~Predictor.predict_next`
  the prediction after the last step, for forecasters :meth:`~Predictor.forecast` from raw
  history in original units, for classifiers :meth:`~Predictor.classify` of raw texts, and,
  for language models, next-token distributions and generation.
* Text is encoded as the checkpoint's data encoded it: with its character vocabulary (a
  character outside it is an error) or with the word or subword tokenizer that
  ``spec.extra["tokenizer"]`` carries (unknown words become its unknown token, as in training).
* :class:`Stream` carries the hidden state between calls: feed it one observation (a token, a
  character or a feature vector) at a time and it returns the prediction for the next step,
  at the cost of one recurrent step.
* For CTC models, :meth:`~Predictor.transcribe` gives the transcript of a whole utterance and
  :meth:`~Predictor.audio_stream` an :class:`~seqlstm.transcription.AudioStream` that
  transcribes audio pushed in chunks (see :mod:`seqlstm.transcription`).

Tasks decide what a step's prediction is through :meth:`SequenceTask.step`
(:mod:`seqlstm.tasks.base`); everything here works for any task.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from seqlstm.errors import CheckpointError, DataError
from seqlstm.nn import HiddenState
from seqlstm.spec import Vocabulary
from seqlstm.tasks import (
    Classifier,
    CTCRecognizer,
    Forecaster,
    LanguageModel,
    SequenceTask,
    load_task,
)
from seqlstm.tokens import TextTokenizer, text_codec

ArrayLike = torch.Tensor | np.ndarray | list | int | float | str
Codec = Vocabulary | TextTokenizer
TaskT = TypeVar("TaskT", bound=SequenceTask)


class Stream:
    """A task's hidden state, carried across calls; one observation in, next prediction out.

    Observations are token ids, characters or words/subwords (token inputs: text that the
    model's codec turns into exactly one token) or feature vectors (real inputs). One stream
    takes a scalar id, one token's text or an ``(F,)`` vector and returns the prediction
    without a batch dimension; ``B`` streams at once take ``(B,)`` ids or ``(B, F)``
    vectors and return ``(B, ...)``.
    """

    def __init__(self, task: SequenceTask, vocab: Codec | None = None) -> None:
        self.task, self.vocab = task, vocab or vocabulary_of(task)
        self.state: HiddenState | None = None

    def reset(self) -> None:
        """Start again from the zero state."""
        self.state = None

    def step(self, observation: ArrayLike) -> torch.Tensor:
        """Advance by one observation; returns the prediction for the next step."""
        inputs, single = as_inputs(self.task, observation, False, self.vocab)
        return self._advance(inputs, single)

    def feed(self, observations: ArrayLike) -> torch.Tensor:
        """Advance by a whole sequence in one call (``(T,)`` ids, a string or ``(T, F)``
        vectors; ``(B, T[, F])`` for ``B`` streams); returns the prediction after its last step."""
        inputs, single = as_inputs(self.task, observations, True, self.vocab)
        return self._advance(inputs, single)

    @torch.inference_mode()
    def _advance(self, inputs: torch.Tensor, single: bool) -> torch.Tensor:
        prediction, self.state = self.task.step(inputs, self.state)  # (B, ...)
        return prediction[0] if single else prediction


class Predictor:
    """A trained task ready to answer: evaluation mode, on ``device``, no Trainer."""

    def __init__(self, task: SequenceTask, device: str | torch.device = "cpu") -> None:
        self.task = task.eval().to(device)
        self.vocab = vocabulary_of(task)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu",
                        expected: type[SequenceTask] = SequenceTask) -> Predictor:
        """Load ``path`` (``weights_only=True``) once; ``expected`` narrows the task class."""
        return cls(load_task(path, expected), device)

    @torch.inference_mode()
    def predict(self, inputs: ArrayLike | Sequence[str],
                lengths: ArrayLike | None = None) -> Any:
        """The head's outputs at every step of ``inputs`` ``(B, T[, F])`` from a zero state:
        what ``Trainer.predict`` returns for the same batch. A list of texts is encoded and
        padded (its ``lengths`` are counted)."""
        if is_texts(inputs):
            tensor, lengths = self.encode_texts(inputs)
        else:
            tensor, _ = as_inputs(self.task, inputs, True, self.vocab)
        batch = {"inputs": tensor}
        if lengths is not None:
            batch["lengths"] = torch.as_tensor(lengths)
        return self.task.predict_step(batch, 0)

    @torch.inference_mode()
    def predict_next(self, inputs: ArrayLike) -> torch.Tensor:
        """The prediction after the last step of ``inputs`` (one sequence or ``(B, T[, F])``)."""
        tensor, single = as_inputs(self.task, inputs, True, self.vocab)
        prediction, _ = self.task.step(tensor, None)
        return prediction[0] if single else prediction

    @torch.inference_mode()
    def forecast(self, history: ArrayLike, series: str | int | None = None,
                 future: ArrayLike | None = None) -> dict[str, torch.Tensor]:
        """A forecaster's forecast from ``history`` in original units: ``(T, C)`` for one
        series or ``(B, T, C)``, every data column (targets, past, then future covariates) over
        the last ``T`` steps; ``series`` names the training series whose scaler applies (None:
        the only one); ``future`` ``([B,] horizon, F_future)`` the known-future covariates.
        Returns ``mean`` ``([B,] horizon, n_targets)`` in original units (and ``lower``/``upper``
        for ``gaussian_nll``), what ``seqlstm-predict`` writes."""
        task = self.require(Forecaster)
        tensor, single = as_inputs(task, history, True, None)  # (B, T, C)
        index = torch.full((tensor.size(0),), task.scaler.index(series), device=task.device)
        ahead = None
        if future is not None:
            ahead = torch.tensor(np.asarray(future, dtype=np.float32), device=task.device)
            ahead = ahead.unsqueeze(0) if single else ahead  # (B, H, F_future)
        outputs = task.predict_step(task.history_batch(tensor, index, ahead), 0)
        return {key: value[0] for key, value in outputs.items()} if single else outputs

    def encode_texts(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``texts`` as padded ids ``(B, T)`` and their lengths ``(B,)``, encoded and cut
        (the data config's ``max_length`` and ``truncation``, when it has them) as the
        checkpoint's data module encodes them."""
        if self.vocab is None:
            raise DataError("text input needs a model with a vocabulary or tokenizer")
        data = self.task.hparams.get("data") or {}
        keep, side = data.get("max_length"), data.get("truncation", "right")
        rows = [encode_text(self.vocab, text, True) for text in texts]
        if keep:
            rows = [r[:keep] if side == "right" else r[-keep:] for r in rows]
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        inputs = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)  # (B, T), 0-padded
        for i, row in enumerate(rows):
            inputs[i, : len(row)] = torch.from_numpy(row)
        return inputs.to(self.task.device), lengths

    def classify(self, texts: str | Sequence[str]) -> tuple[str | list[str], torch.Tensor]:
        """A text classifier's labels and probabilities for raw ``texts``: for one text its
        label and ``(C,)`` probabilities, for a list the labels and ``(B, C)``; the columns
        follow the task's ``labels`` (what ``seqlstm-predict`` writes as ``prob_<label>``)."""
        task = self.require(Classifier)
        outputs = self.predict([texts] if isinstance(texts, str) else list(texts))
        names = [task.labels[int(c)] for c in outputs["class"]]
        if isinstance(texts, str):
            return names[0], outputs["probs"][0]
        return names, outputs["probs"]

    def stream(self) -> Stream:
        """A fresh :class:`Stream` over this predictor's task."""
        return Stream(self.task, self.vocab)

    def require(self, kind: type[TaskT]) -> TaskT:
        """The task, if it is a ``kind``; a one-line error otherwise."""
        if not isinstance(self.task, kind):
            raise CheckpointError(f"this needs a {kind.__name__}; the predictor holds a "
                                  f"{type(self.task).__name__}")
        return self.task

    # -- speech (CTC) -------------------------------------------------------------------------

    def transcribe(self, samples: ArrayLike | Path, decoder: str = "greedy") -> str:
        """The transcript of one utterance: mono samples ``(N,)`` at the model's sample rate
        (``spec.extra['features']['sample_rate']``) or an audio file's path (decoded and
        resampled), decoded ``greedy`` or ``beam``."""
        from seqlstm.transcription import transcribe

        return transcribe(self.require(CTCRecognizer), samples, decoder=decoder)

    def audio_stream(self) -> Any:
        """An :class:`~seqlstm.transcription.AudioStream`: ``push(chunk)`` returns the partial
        transcript, ``finish()`` the final one (equal to offline greedy decoding)."""
        from seqlstm.transcription import AudioStream

        return AudioStream(self.require(CTCRecognizer))

    # -- language models ----------------------------------------------------------------------

    def next_token_probs(self, text: str) -> torch.Tensor:
        """``(V,)`` probabilities of the token after ``text`` (ids index ``spec.vocab``)."""
        self.require(LanguageModel)
        return self.predict_next(text).float().softmax(-1)  # (V,) logits -> probabilities

    @torch.inference_mode()
    def generate(self, prompt: str, length: int, num_samples: int = 1, seed: int | None = None,
                 **sampling: Any) -> list[str]:
        """``num_samples`` continuations of ``prompt`` (see :meth:`LanguageModel.generate`)."""
        return self.require(LanguageModel).generate_text(prompt, length, num_samples=num_samples,
                                                 seed=seed, **sampling)


def vocabulary_of(task: SequenceTask) -> Codec | None:
    """The codec of the task's tokens, built once: its word/subword tokenizer or character
    vocabulary (None for real-valued inputs)."""
    if task.spec.input_kind != "tokens":
        return None
    return text_codec(task.spec.vocab, task.spec.extra)


def is_texts(value: Any) -> bool:
    """Whether ``value`` is a non-empty list or tuple of strings."""
    return isinstance(value, list | tuple) and bool(value) and \
        all(isinstance(v, str) for v in value)


def encode_text(codec: Codec, text: str, sequence: bool) -> np.ndarray:
    """int64 ids of ``text`` (``sequence=False``: it must be exactly one token)."""
    if not text:
        raise DataError(f"expected {'some text' if sequence else 'one token'}, got {text!r}")
    if isinstance(codec, TextTokenizer):
        ids = codec.encode_batch([text])[0]
    else:
        try:
            ids = codec.encode(text, unknown="error").astype(np.int64)
        except DataError as err:
            raise DataError(f"input: {err}") from None
    if not len(ids) or (not sequence and len(ids) != 1):
        what = "one character" if isinstance(codec, Vocabulary) else "one token"
        raise DataError(f"expected {'some tokens' if sequence else what}, got {text!r} "
                        f"({len(ids)} tokens)")
    return ids


def as_inputs(task: SequenceTask, value: ArrayLike, sequence: bool,
              vocab: Codec | None) -> tuple[torch.Tensor, bool]:
    """``value`` as a ``(B, T)`` id or ``(B, T, F)`` float tensor on the task's device, and
    whether it was one sequence (no batch dimension given). ``sequence=False`` means one step;
    text is encoded with ``vocab`` (a list of texts: :meth:`Predictor.predict` pads them)."""
    tokens = task.spec.input_kind == "tokens"
    if isinstance(value, str):
        if not tokens or vocab is None:
            raise DataError("text input needs a model with a vocabulary or tokenizer")
        ids = encode_text(vocab, value, sequence)
        value = ids if sequence else ids[0]  # (T,) or one id
    elif is_texts(value):
        raise DataError("a list of texts: Predictor.predict or classify takes them (padded); "
                        "here give one text or token ids")
    tensor = torch.as_tensor(value, dtype=torch.int64 if tokens else torch.float32)
    item_dims = 0 if tokens else 1  # an observation is a scalar id or an (F,) vector
    if tensor.dim() == item_dims + int(sequence):
        single, tensor = True, tensor.unsqueeze(0)
    else:
        single = False
    if not sequence:
        tensor = tensor.unsqueeze(1)  # (B, ...) -> (B, 1, ...)
    if tensor.dim() != 2 + item_dims:
        raise DataError(f"expected {'(B, T)' if tokens else '(B, T, F)'} inputs, got shape "
                        f"{tuple(tensor.shape)}")
    if not tokens and tensor.size(-1) != task.spec.input_size:
        raise DataError(f"expected {task.spec.input_size} features per step, got "
                        f"{tensor.size(-1)}")
    return tensor.to(task.device), single
