"""The UEA/UCR .ts reader: parsing, shipped files, and one exact message per bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqlstm.data.sequences.ts_format import read_ts
from seqlstm.data.shipped import aeon_data_dir, aeon_file
from seqlstm.errors import DataError

HEADER = "@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n" \
         "@classLabel true a b\n@data\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.ts"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_multivariate_unequal_lengths(tmp_path):
    path = write(tmp_path, "# a comment\n" + HEADER + "1,2,3:4,5,6:a\n\n7,8:9,10:b\n")
    data = read_ts(path)
    assert data.name == "Toy"
    assert data.class_labels == ["a", "b"]
    assert data.labels == ["a", "b"]
    assert [s.shape for s in data.series] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(data.series[0], [[1, 4], [2, 5], [3, 6]])
    assert data.series[0].dtype == np.float32


def test_unlabelled_file(tmp_path):
    data = read_ts(write(tmp_path, "@problemName U\n@classLabel false\n@data\n1,2\n3,4,5\n"))
    assert data.labels is None and data.class_labels is None
    assert [s.shape for s in data.series] == [(2, 1), (3, 1)]


BAD = [
    ("", "toy.ts: the file is empty; expected a header (@problemName ... @data) followed by "
         "one series per line"),
    ("# only a comment\n\n", "toy.ts: the file is empty; expected a header (@problemName ... "
                             "@data) followed by one series per line"),
    ("@problemName Toy\n@dimension 2\n@data\n1:a\n",
     "toy.ts, line 2: unknown header '@dimension'; expected one of @problemname, @timestamps, "
     "@missing, @univariate, @dimensions, @equallength, @serieslength, @classlabel, "
     "@targetlabel, @data"),
    ("@problemName Toy\n1,2,3\n", "toy.ts, line 2: expected a header line starting with '@' or "
                                  "'@data' before the series, got '1,2,3'"),
    ("@problemName Toy\n@classLabel true a\n", "toy.ts: no '@data' line after the header"),
    ("@problemName Toy\n@classLabel true\n@data\n1:a\n",
     "toy.ts: '@classLabel' must be 'false' or 'true' followed by the labels, got 'true'"),
    (HEADER, "toy.ts: no series after '@data' (line 6)"),
    (HEADER + "1,2,3:4,5,6:a\n1,2,3:4,5:b\n",
     "toy.ts, line 8: dimension 2 has 2 values but dimension 1 has 3; the dimensions of one "
     "series must have equal lengths"),
    (HEADER + "1,2,3:a\n", "toy.ts, line 7: has 1 dimension(s), expected 2 (from @dimensions "
                           "or the first series)"),
    (HEADER + "1,2:3,4:c\n", "toy.ts, line 7: class label 'c' is not declared in @classLabel "
                             "(a b)"),
    (HEADER + "1,?:3,4:a\n", "toy.ts, line 7, dimension 1: '?' is not a number (missing values "
                             "'?' are not supported)"),
    ("@problemName T\n@timeStamps true\n@classLabel false\n@data\n(0,1)\n",
     "toy.ts: '@timeStamps true' is not supported; give values without time stamps"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[1][:30] for _, m in BAD])
def test_bad_input_names_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_ts(path)
    assert str(err.value) == f"{tmp_path}/{message}"


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as err:
        read_ts(tmp_path / "nope.ts")
    assert str(err.value) == f"{tmp_path}/nope.ts: no such .ts file"


@pytest.fixture
def aeon_data() -> Path:
    folder = aeon_data_dir()
    if folder is None:
        pytest.skip("aeon is not installed: JapaneseVowels and ItalyPowerDemand ship in its wheel")
    return folder


def test_japanese_vowels_from_the_aeon_wheel(aeon_data):
    train = read_ts(aeon_file("JapaneseVowels", "TRAIN"))
    test = read_ts(aeon_file("JapaneseVowels", "TEST"))
    assert (len(train.series), len(test.series)) == (270, 370)
    assert {s.shape[1] for s in train.series} == {12}
    lengths = [len(s) for s in train.series + test.series]
    assert (min(lengths), max(lengths)) == (7, 29)
    assert train.class_labels == [str(i) for i in range(1, 10)]
    assert [train.labels.count(str(i)) for i in range(1, 10)] == [30] * 9


def test_italy_power_demand_from_the_aeon_wheel(aeon_data):
    train = read_ts(aeon_file("ItalyPowerDemand", "TRAIN"))
    assert len(train.series) == 67
    assert {s.shape for s in train.series} == {(24, 1)}
    assert train.class_labels == ["1", "2"]


def test_aeon_file_names_a_missing_dataset(aeon_data):
    with pytest.raises(DataError) as err:
        aeon_file("Nope", "TRAIN")
    missing = aeon_data / "Nope" / "Nope_TRAIN.ts"
    assert str(err.value) == f"{missing}: not in the installed aeon wheel"
