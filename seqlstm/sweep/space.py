"""A search space from config: each swept key maps to an Optuna distribution.

In ``hydra.sweeper.params`` (or on the command line, Hydra's sweep syntax)::

    model.optimizer.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    model.encoder.hidden_size: {type: int, low: 16, high: 128, step: 16}
    model.encoder.cell: {type: categorical, choices: [lstm, gru]}
    model.encoder.num_layers: 1,2                 # Hydra choice: categorical
    model.encoder.output_dropout: interval(0.0, 0.3)   # float; tag(log, interval(a, b)): log
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from seqlstm.errors import ConfigError, is_int, is_number

PARAMS_KEY = "hydra.sweeper.params"


def distributions(params: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """Every entry of ``params`` (a spec dict or a Hydra sweep string) as a distribution."""
    return {name: distribution(name, spec) for name, spec in params.items()}


def distribution(name: str, spec: Any) -> BaseDistribution:
    key = f"{PARAMS_KEY}.{name}"
    if isinstance(spec, str):
        return _from_override(key, OverridesParser.create().parse_override(f"{name}={spec}"))
    if not isinstance(spec, Mapping):
        raise ConfigError(key, "a {type: float|int|categorical, ...} mapping or a Hydra sweep "
                          "such as 1,2 or interval(0.1, 0.5)", spec)
    kind = spec.get("type")
    if kind == "categorical":
        choices = list(spec.get("choices") or [])
        if not choices:
            raise ConfigError(f"{key}.choices", "a non-empty list", spec.get("choices"))
        return CategoricalDistribution(choices)
    if kind not in ("float", "int"):
        raise ConfigError(f"{key}.type", "one of ['float', 'int', 'categorical']", kind)
    low, high = spec.get("low"), spec.get("high")
    for bound, value in (("low", low), ("high", high)):
        if not (is_int(value) if kind == "int" else is_number(value)):
            raise ConfigError(f"{key}.{bound}", f"a{'n int' if kind == 'int' else ' number'}",
                              value)
    if not low < high:
        raise ConfigError(key, "a range with low < high (this one is empty)",
                          f"low={low}, high={high}")
    log, step = bool(spec.get("log", False)), spec.get("step")
    if log and low <= 0:
        raise ConfigError(f"{key}.low", "> 0 on a log scale", low)
    if step is not None and (log or not step > 0):
        raise ConfigError(f"{key}.step", "a number > 0, and no step on a log scale", step)
    if kind == "int":
        return IntDistribution(low, high, log=log, step=step or 1)
    return FloatDistribution(float(low), float(high), log=log, step=step)


def _from_override(key: str, override: Override) -> BaseDistribution:
    if override.is_interval_sweep():
        sweep = override.value()
        assert isinstance(sweep, IntervalSweep)
        log = "log" in sweep.tags
        return distribution(key.removeprefix(f"{PARAMS_KEY}."),
                            {"type": "float", "low": sweep.start, "high": sweep.end, "log": log})
    if override.is_discrete_sweep():
        choices = list(override.sweep_iterator())
        if not choices:
            raise ConfigError(key, "a non-empty list of choices", override.input_line)
        return CategoricalDistribution(choices)
    raise ConfigError(key, "a sweep: a,b,c, choice(...), range(...) or interval(low, high)",
                      override.get_value_element_as_str())


def grid_space(space: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """The values a grid search visits: categorical choices, or every step of an int range."""
    grid: dict[str, list[Any]] = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[name] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            grid[name] = list(range(dist.low, dist.high + 1, dist.step))
        else:
            raise ConfigError(f"{PARAMS_KEY}.{name}", "choices or an int range for a grid "
                              "search (a float range has no grid)", repr(dist))
    return grid
