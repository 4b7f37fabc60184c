"""Pretrained word vectors (GloVe .txt, word2vec/fastText .vec) into the token embedding."""

from __future__ import annotations

import numpy as np
import pytest

from seqlstm.callbacks.embeddings import read_vectors
from seqlstm.errors import DataError
from tests.helpers.text_data import write_reviews

pytest.importorskip("tokenizers", reason="word tokenizers need seqlstm[text]")


def write_vectors(path, words, dim=4, header=False):
    lines = [f"{len(words)} {dim}"] if header else []
    lines += [f"{w} " + " ".join(str(float(i + k / 10)) for k in range(dim))
              for i, w in enumerate(words)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_vectors_exact_then_lowercase(tmp_path):
    path = write_vectors(tmp_path / "v.vec", ["Paris", "the", "paris", "zebra"], header=True)
    matrix, found = read_vectors(path, ["[UNK]", "the", "paris", "Rome", "THE"])
    assert found.tolist() == [False, True, True, False, True]
    assert matrix[2, 0] == 2.0  # "paris" exactly, not "Paris" lowercased
    assert np.array_equal(matrix[4], matrix[1])  # "THE" falls back to "the"


def test_a_vector_of_the_wrong_width_names_the_line(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("the 0.1 0.2 0.3\ncat 0.1 0.2\n")
    with pytest.raises(DataError, match=r"v\.txt:2: 2 values, expected 3"):
        read_vectors(path, ["the", "cat"])


@pytest.mark.parametrize("freeze", [False, True])
def test_training_starts_from_the_vectors(compose_train, tmp_path, freeze):
    import torch

    from seqlstm.cli.train import train
    from seqlstm.tasks import load_task
    from tests.conftest import FAST_WITH_CALLBACKS

    vectors = write_vectors(tmp_path / "glove.txt", ["great", "film", "boring"], dim=8)
    cfg = compose_train("data=text_classification",
                        f"data.path={write_reviews(tmp_path / 'r.csv')}", "data.batch_size=8",
                        "model.encoder.hidden_size=8", "model.embedding_dim=8", "logger=[]",
                        "callbacks=[default,pretrained_embeddings]",
                        f"callbacks.pretrained_embeddings.path={vectors}",
                        f"callbacks.pretrained_embeddings.freeze={str(freeze).lower()}",
                        "~callbacks.lr_monitor", *FAST_WITH_CALLBACKS)
    train(cfg)
    task = load_task(tmp_path / "run" / "checkpoints" / "last.ckpt")
    row = task.embedding.weight[task.spec.vocab.index("film")]
    expected = torch.arange(8) / 10 + 1.0
    assert torch.allclose(row, expected) == freeze  # trained away from the vectors unless frozen
    assert torch.allclose(row, expected, atol=0.1)
