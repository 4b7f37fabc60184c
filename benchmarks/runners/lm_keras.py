"""Char LM training throughput of Keras 3 (backend from KERAS_BACKEND): the layers of the classic
``Sequential([LSTM, Dense(softmax)])`` example, stacked to the same model as the others.

Timed from the end of the warm-up batch to the end of the last batch with a callback: the wall
time of ``fit`` would include TensorFlow's tf.data teardown, which can stall 20-40 s."""

from __future__ import annotations

import numpy as np
from common import StepClock, emit, import_keras, lm_parser


def main() -> None:
    p = lm_parser(__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--vocab", type=int)
    args = p.parse_args()
    keras = import_keras(args.threads, args.seed)
    backend = keras.backend.backend()
    ids = np.load(args.data)
    vocab = int(ids.max()) + 1 if args.vocab is None else args.vocab
    rng = np.random.default_rng(args.seed)
    count = args.batch * (args.warmup + args.steps)
    starts = rng.integers(0, len(ids) - args.seq_len - 1, count)
    windows = ids[starts[:, None] + np.arange(args.seq_len + 1)].astype(np.int32)  # (N, T+1)
    model = keras.Sequential(
        [keras.Input((args.seq_len,), dtype="int32"), keras.layers.Embedding(vocab, args.embedding)]
        + [keras.layers.LSTM(args.hidden, return_sequences=True) for _ in range(args.layers)]
        + [keras.layers.Dense(vocab, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(2e-3, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    clock = StepClock(args.warmup)

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            clock.tick()

    history = model.fit(windows[:, :-1], windows[:, 1:], batch_size=args.batch, epochs=1,
                        shuffle=False, verbose=0, callbacks=[Clock()])
    emit({**clock.rates(args.batch * args.seq_len, "tokens"),
          "final_loss": float(history.history["loss"][-1]),
          "keras": keras.__version__, "backend": backend,
          "backend_version": keras.backend.backend() + " " + _backend_version(backend)})


def _backend_version(backend: str) -> str:
    module = __import__("tensorflow" if backend == "tensorflow" else backend)
    return module.__version__


if __name__ == "__main__":
    main()
