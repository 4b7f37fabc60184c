"""Trainer-free inference: load a checkpoint once, answer under ``torch.inference_mode``.

* :class:`Predictor` wraps a trained task: :meth:`~Predictor.predict` gives what
  ``Trainer.predict`` gives (the head's outputs at every step), :meth:`~Predictor.predict_next`
  the prediction after the last step, for forecasters :meth:`~Predictor.forecast` from raw
  history in original units, and, for language models, next-token distributions and
  generation.
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

from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from seqlstm.errors import CheckpointError, DataError
from seqlstm.nn import HiddenState
from seqlstm.spec import Vocabulary
from seqlstm.tasks import CTCRecognizer, Forecaster, LanguageModel, SequenceTask, load_task

ArrayLike = torch.Tensor | np.ndarray | list | int | float | str
TaskT = TypeVar("TaskT", bound=SequenceTask)


class Stream:
    """A task's hidden state, carried across calls; one observation in, next prediction out.

    Observations are token ids or characters (token inputs) or feature vectors (real inputs).
    One stream takes a scalar id, one character or an ``(F,)`` vector and returns the
    prediction without a batch dimension; ``B`` streams at once take ``(B,)`` ids or ``(B, F)``
    vectors and return ``(B, ...)``.
    """

    def __init__(self, task: SequenceTask, vocab: Vocabulary | None = None) -> None:
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
    def predict(self, inputs: ArrayLike, lengths: ArrayLike | None = None) -> torch.Tensor:
        """The head's outputs at every step of ``inputs`` ``(B, T[, F])`` from a zero state:
        what ``Trainer.predict`` returns for the same batch."""
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


def vocabulary_of(task: SequenceTask) -> Vocabulary | None:
    """The task's character vocabulary, built once (None for real-valued inputs)."""
    return Vocabulary(task.spec.vocab) if task.spec.vocab else None


def as_inputs(task: SequenceTask, value: ArrayLike, sequence: bool,
              vocab: Vocabulary | None) -> tuple[torch.Tensor, bool]:
    """``value`` as a ``(B, T)`` id or ``(B, T, F)`` float tensor on the task's device, and
    whether it was one sequence (no batch dimension given). ``sequence=False`` means one step;
    text is encoded with ``vocab``."""
    tokens = task.spec.input_kind == "tokens"
    if isinstance(value, str):
        if not tokens or vocab is None:
            raise DataError("text input needs a model with a character vocabulary")
        if not value or (not sequence and len(value) != 1):
            raise DataError(f"expected {'some text' if sequence else 'one character'}, got "
                            f"{value!r}")
        try:
            ids = vocab.encode(value, unknown="error").astype(np.int64)
        except DataError as err:
            raise DataError(f"input: {err}") from None
        value = ids if sequence else ids[0]  # (T,) or one id
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
