"""Catching NaN/Inf losses and gradients the step they appear, with a stop or skip policy."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from seqlstm.errors import ConfigError, NumericalError, check_int

POLICIES = ("stop", "skip")


class NumericsGuard(L.Callback):
    """Checks every training loss and the total gradient norm (``callbacks.grad_norm`` logs
    that norm as ``train/grad_norm``).

    A non-finite value is reported with its global step, epoch and batch index. ``stop``
    raises :class:`NumericalError` before the optimiser step, so neither the weights nor any
    saved checkpoint are touched. ``skip`` drops that step's gradients (the optimiser leaves
    every parameter as it was), counts it in ``train/skipped_steps`` and stops once more than
    ``max_skips`` steps were skipped.

    Args:
        policy: ``stop`` or ``skip``.
        max_skips: the most steps ``skip`` may drop in one run.
    """

    def __init__(self, policy: str = "stop", max_skips: int = 10) -> None:
        if policy not in POLICIES:
            raise ConfigError("policy", f"one of {list(POLICIES)}", policy)
        check_int("max_skips", max_skips, 0)
        self.policy, self.max_skips = policy, max_skips
        self.skipped = 0
        self._batch_idx = 0
        self._fault: str | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._batch_idx, self._fault = batch_idx, None

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           loss: torch.Tensor) -> None:
        if not bool(torch.isfinite(loss.detach()).all()):
            self._found(trainer, f"loss {loss.detach().flatten()[0].item()}")

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
        if self._fault is None and not bool(torch.isfinite(norm)):
            self._found(trainer, f"gradient norm {norm.item()}")
        if self._fault is not None:  # policy is skip: leave every parameter unchanged
            for group in optimizer.param_groups:
                for param in group["params"]:
                    param.grad = None
            self.skipped += 1
            pl_module.log("train/skipped_steps", float(self.skipped), on_step=True,
                          on_epoch=False)
            if self.skipped > self.max_skips:
                raise NumericalError(
                    f"{self._where(trainer)}: {self.skipped} steps skipped for non-finite values, "
                    f"more than callbacks.numerics.max_skips={self.max_skips} (last: "
                    f"{self._fault}); lower the learning rate or check the data")

    def _found(self, trainer: L.Trainer, what: str) -> None:
        if self.policy == "stop":
            raise NumericalError(
                f"non-finite {what} at {self._where(trainer)}; stopped before the optimiser "
                "step (callbacks.numerics.policy=stop; 'skip' drops such steps instead)")
        self._fault = what

    def _where(self, trainer: L.Trainer) -> str:
        return (f"global step {trainer.global_step} (epoch {trainer.current_epoch}, batch "
                f"{self._batch_idx})")

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))
