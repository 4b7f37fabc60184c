"""Puts seqlstm's config groups on the search path of any Hydra app.

A user's own app can then select ``model: lstm``, ``data: char``, ``trainer: cpu``... in its
defaults list without copying files; its own configs of the same name take precedence.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from seqlstm.configs import config_dir


class SeqlstmSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="seqlstm", path=f"file://{config_dir()}")
