"""The Hydra plugin of ``hydra/sweeper=seqlstm_optuna``: a shim over :mod:`seqlstm.sweep.sweeper`.

Hydra instantiates only plugin classes defined under the ``hydra_plugins`` namespace, so the
sweeper is subclassed here and its config registered; everything else lives in seqlstm.
"""

from hydra.core.config_store import ConfigStore

from seqlstm.sweep import sweeper as body


class SeqlstmOptunaSweeper(body.OptunaSweeper):
    """:class:`seqlstm.sweep.sweeper.OptunaSweeper`, where Hydra's plugin scan finds it."""


ConfigStore.instance().store(group="hydra/sweeper", name="seqlstm_optuna",
                             node=body.OptunaSweeperConf, provider="seqlstm")
