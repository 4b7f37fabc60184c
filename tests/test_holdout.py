"""The held-out fractions every file-based data module checks alike (check_holdout)."""

from __future__ import annotations

import pytest

from seqlstm.errors import ConfigError, check_holdout


def test_a_given_file_replaces_its_fraction():
    assert check_holdout(0.1, 0.2) == (0.1, 0.2)
    assert check_holdout(0.1, 0.2, test_path="test.csv") == (0.1, 0.0)
    assert check_holdout(0.1, 0.2, val_path="val.csv", test_path="test.csv") == (0.0, 0.0)
    assert check_holdout(0.9, 0.9, test_path="test.csv") == (0.9, 0.0)  # only val is held out


@pytest.mark.parametrize(("val", "test", "paths"), [
    (0.0, 0.1, {}), (1.0, 0.0, {}), (0.6, 0.5, {}), (0.1, -0.1, {}), (0.1, 1.0, {}),
    (0.0, 0.0, {"test_path": "test.csv"}),
])
def test_bad_fractions_name_the_key_and_both_values(val, test, paths):
    with pytest.raises(ConfigError) as err:
        check_holdout(val, test, **paths)
    assert str(err.value) == ("config key 'data.val_fraction' must be in (0, 1), with "
                              f"val_fraction + test_fraction < 1, got [{val}, {test}]")


def test_modules_with_a_validation_file_say_so():
    with pytest.raises(ConfigError, match=r"in \(0, 1\) \(or a data.val_path\)"):
        check_holdout(0.0, 0.1, val_path_allowed=True)
