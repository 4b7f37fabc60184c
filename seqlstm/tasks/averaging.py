"""AWD-LSTM's regularisers and NT-ASGD (Merity, Keskar & Socher 2018), as plain torch helpers.

* :func:`activation_penalty`: AR, ``alpha * mean(h_t ** 2)``, and TAR,
  ``beta * mean((h_t - h_{t-1}) ** 2)``, over the top layer's outputs ``h``.
* :class:`ParameterAverage`: the non-monotonically triggered switch to averaged SGD. Training
  runs plain SGD; once the validation loss fails to beat the best of the checks more than
  ``nonmono`` checks ago, an equal-weight running average of the parameters starts (what
  ``torch.optim.ASGD(t0=0, lambd=0)`` keeps as ``ax``), and evaluation uses the average.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlstm.errors import ConfigError


def activation_penalty(outputs: torch.Tensor, ar: float, tar: float) -> torch.Tensor:
    """AR + TAR of encoder outputs ``(B, T, H)`` (a scalar tensor)."""
    penalty = outputs.new_zeros(())
    if ar:
        penalty = penalty + ar * outputs.pow(2).mean()
    if tar and outputs.size(1) > 1:
        penalty = penalty + tar * (outputs[:, 1:] - outputs[:, :-1]).pow(2).mean()
    return penalty


class ParameterAverage(nn.Module):
    """The NT-ASGD trigger and running average of ``module``'s parameters.

    The average lives in buffers (so checkpoints keep it, and a checkpoint loaded for testing
    is evaluated with it); :meth:`swap` exchanges it with the live parameters around an
    evaluation.
    """

    def __init__(self, module: nn.Module, nonmono: int = 5) -> None:
        super().__init__()
        if isinstance(nonmono, bool) or not isinstance(nonmono, int) or nonmono < 1:
            raise ConfigError("model.task_options.next_token.nt_asgd", "an integer >= 1 (the "
                              "non-monotone interval) or null", nonmono)
        self.nonmono = nonmono
        self._params = [p for p in module.parameters() if p.requires_grad]
        for i, p in enumerate(self._params):
            self.register_buffer(f"avg_{i}", torch.zeros_like(p))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.history: list[float] = []
        self.swapped = False

    @property
    def averaging(self) -> bool:
        return bool(self.count > 0)

    def observe(self, val_loss: float) -> bool:
        """Record one validation loss; start averaging when it is non-monotone. Returns
        whether averaging started now."""
        history = self.history
        trigger = (not self.averaging and len(history) > self.nonmono
                   and val_loss > min(history[: -self.nonmono]))
        history.append(val_loss)
        if trigger:
            with torch.no_grad():
                for i, p in enumerate(self._params):
                    getattr(self, f"avg_{i}").copy_(p)
            self.count.fill_(1)
        return trigger

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current parameters into the average (after an optimiser step)."""
        if not self.averaging:
            return
        self.count += 1
        weight = 1.0 / float(self.count)
        for i, p in enumerate(self._params):
            getattr(self, f"avg_{i}").lerp_(p, weight)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the live parameters and the average (twice restores them)."""
        if not self.averaging:
            return
        for i, p in enumerate(self._params):
            avg = getattr(self, f"avg_{i}")
            live = p.detach().clone()
            p.copy_(avg)
            avg.copy_(live)
        self.swapped = not self.swapped
