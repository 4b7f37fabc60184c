"""Text generation the classic Keras ``lstm_text_generation`` way (Keras 3, backend from
KERAS_BACKEND): every new character calls ``model.predict`` on the last ``window`` characters
and samples from the returned distribution with NumPy, as that example's ``sample`` does. The
model has the layers of the seqlstm model it is compared with: embedding, stacked LSTM, softmax
over the characters."""

from __future__ import annotations

import time

import numpy as np
from common import emit, import_keras, parser


def sample(probs: np.ndarray, rng: np.random.Generator, temperature: float = 1.0) -> int:
    """The example's sampling: reweight the softmax by ``temperature``, draw one index."""
    logits = np.log(probs.astype("float64") + 1e-12) / temperature
    weights = np.exp(logits)
    return int(np.argmax(rng.multinomial(1, weights / weights.sum())))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--chars", type=int, default=500)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--vocab", type=int, default=101)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    args = p.parse_args()
    keras = import_keras(args.threads, args.seed)
    backend = keras.backend.backend()
    model = keras.Sequential(
        [keras.Input((args.window,), dtype="int32"),
         keras.layers.Embedding(args.vocab, args.embedding)]
        + [keras.layers.LSTM(args.hidden, return_sequences=i < args.layers - 1)
           for i in range(args.layers)]
        + [keras.layers.Dense(args.vocab, activation="softmax")])
    rng = np.random.default_rng(args.seed)
    ids = rng.integers(1, args.vocab, args.window).tolist()

    def next_id() -> int:
        window = np.array([ids[-args.window :]], dtype=np.int32)  # (1, window)
        return sample(model.predict(window, verbose=0)[0], rng)

    next_id()  # warm-up: the first predict call builds the graph
    start = time.perf_counter()
    for _ in range(args.chars):
        ids.append(next_id())
    seconds = time.perf_counter() - start
    emit({"seconds": seconds, "chars_per_s": args.chars / seconds, "backend": backend,
          "keras": keras.__version__})


if __name__ == "__main__":
    main()
