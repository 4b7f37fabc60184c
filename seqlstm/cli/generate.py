"""``seqlstm-generate``: sample text from a language-model checkpoint."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from seqlstm.tasks import LanguageModel, load_task
from seqlstm.validation import validate_generate


def generate(cfg: DictConfig) -> list[str]:
    """``cfg.num_samples`` continuations of ``cfg.prompt`` (each includes the prompt)."""
    validate_generate(cfg)
    model = load_task(cfg.ckpt_path, LanguageModel)
    samples = model.generate_text(cfg.prompt, cfg.length, num_samples=cfg.num_samples,
                                  seed=cfg.seed, temperature=cfg.temperature, top_k=cfg.top_k,
                                  top_p=cfg.top_p)
    return [cfg.prompt + sample for sample in samples]


def command(cfg: DictConfig) -> None:
    samples = generate(cfg)
    text = samples[0] if len(samples) == 1 else "\n".join(
        f"--- sample {index} ---\n{sample}" for index, sample in enumerate(samples, 1))
    print(text)
    if cfg.output:
        Path(cfg.output).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    from seqlstm.cli.scripts import generate

    generate()
