"""Generation speed: carried state (one step per character) vs re-reading a window per character.

The classic Keras ``lstm_text_generation`` example predicts each new character by running the
model over the last 100 characters again. seqlstm reads the prompt once and then carries the
hidden state, so each character costs one recurrent step. Both ways use the same model (a
2-layer, 256-unit LSTM; weights do not change the cost) and produce 500 characters.

With ``--keras`` the classic example itself runs too, in the Keras venv
(``python -m benchmarks setup keras``): Keras 3 on TensorFlow, one ``model.predict`` call per
character on the last 100 characters, with the same layers.

    python -m benchmarks generation [--chars 500] [--window 100] [--threads 2] [--keras]
"""

from __future__ import annotations

import argparse
import string
import time

import torch

from benchmarks import harness
from seqlstm.data import DataSpec
from seqlstm.tasks import LanguageModel
from seqlstm.tasks.language_model import sample_next


def build_model(hidden: int, layers: int) -> LanguageModel:
    vocab = ["\ufffd", *sorted(set(string.printable))]
    spec = DataSpec(input_kind="tokens", target_kind="next_token", input_size=len(vocab),
                    output_size=len(vocab), vocab=vocab)
    torch.manual_seed(0)
    return LanguageModel(spec=spec.as_dict(), encoder={"hidden_size": hidden,
                         "num_layers": layers}, embedding_dim=64).eval()


def cached(model: LanguageModel, prompt: torch.Tensor, chars: int) -> torch.Tensor:
    return model.generate(prompt, chars, generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def windowed(model: LanguageModel, prompt: torch.Tensor, chars: int) -> torch.Tensor:
    """The Keras way: every new character re-runs the model over the last ``window`` ids."""
    generator, window, ids = torch.Generator().manual_seed(0), prompt.size(1), prompt
    for _ in range(chars):
        logits, _ = model(ids[:, -window:])  # (1, window, V): no state kept between calls
        ids = torch.cat([ids, sample_next(logits[:, -1], 1.0, None, None, generator)], dim=1)
    return ids[:, -chars:]


@torch.inference_mode()
def breakdown(model: LanguageModel, prompt: torch.Tensor, calls: int = 500) -> None:
    """Where a cached step's time goes, against a window pass: µs per call of each piece (the
    best of 3 timings of ``calls`` calls), and the speed-up ceiling a cached step with no Python
    overhead would reach."""
    logits, state = model(prompt)
    token = prompt[:, -1:]
    emb = model.embed(token)  # (1, 1, E)
    h, c = state
    cells = [(layer.step_kernel, layer.rnn) for layer in model.encoder.layers]
    width = [emb[:, 0]] + [h[i] for i in range(len(cells) - 1)]  # each layer's one-step input

    def per_call(fn, count: int = calls) -> float:
        return best_of(lambda: [fn() for _ in range(count)], 3) / count * 1e6

    window_us = per_call(lambda: model(prompt), 20)
    cell_us = [per_call(lambda k=k, r=r, x=x, i=i: k(x, (h[i], c[i]), r.weight_ih_l0,
                                                      r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0))
               for i, ((k, r), x) in enumerate(zip(cells, width, strict=True))]
    rest_us = (per_call(lambda: model.embed(token)) + per_call(lambda: model.head(h[-1:]))
               + per_call(lambda: sample_next(logits[:, -1], 1.0, None, None, None)))
    step_us = per_call(lambda: sample_next(model.step(token, state)[0], 1.0, None, None, None))
    steps = prompt.size(1) * len(cells)
    print(f"window pass {window_us:.0f} µs = {window_us / steps:.0f} µs per step and layer; "
          f"lstm_cell per layer {', '.join(f'{u:.0f}' for u in cell_us)} µs; embedding + head + "
          f"sampling {rest_us:.0f} µs; whole cached step {step_us:.0f} µs (Python overhead "
          f"{step_us - sum(cell_us) - rest_us:.0f} µs); ceiling with no overhead "
          f"{window_us / (sum(cell_us) + rest_us):.0f}x, measured {window_us / step_us:.0f}x")


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks generation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keras", action="store_true",
                        help="also run the Keras example's loop (Keras 3, TensorFlow backend)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the pieces of a cached step against a window pass")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = build_model(args.hidden, args.layers)
    prompt = torch.randint(1, model.spec.input_size, (1, args.window))
    cached(model, prompt, 20), windowed(model, prompt, 5)  # warm-up
    rows = [("cached state (seqlstm)", best_of(lambda: cached(model, prompt, args.chars),
                                               args.repeats)),
            (f"re-run {args.window}-char window", best_of(
                lambda: windowed(model, prompt, args.chars), max(1, args.repeats - 2)))]
    if args.keras:
        result = harness.run("gen_keras.py", [
            "--chars", str(args.chars), "--window", str(args.window),
            "--vocab", str(model.spec.input_size), "--hidden", str(args.hidden),
            "--layers", str(args.layers)], args.threads, "keras",
            {"KERAS_BACKEND": "tensorflow"})
        rows.append((f"Keras example (TF), {args.window}-char window, one run",
                     result["seconds"]))
    cached_s = rows[0][1]
    width = max(len(name) for name, _ in rows)
    print(f"{args.chars} characters, {args.layers}x{args.hidden} LSTM, window {args.window}, "
          f"{torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"| {'method':<{width}} | {'seconds':>8} | {'chars/s':>9} | {'cached is x faster':>18} |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}|{'-' * 11}|{'-' * 20}|")
    for name, seconds in rows:
        print(f"| {name:<{width}} | {seconds:8.3f} | {args.chars / seconds:9.0f} | "
              f"{seconds / cached_s:17.1f}x |")
    if args.breakdown:
        breakdown(model, prompt)


if __name__ == "__main__":
    main()
