"""Chrono initialisation (Tallec & Ollivier 2018) of the encoder's gate biases."""

import pytest
import torch

from seqlstm.errors import ConfigError
from seqlstm.nn import EncoderConfig, RecurrentEncoder
from seqlstm.nn.init import chrono_init, expected_memory


def test_chrono_spreads_lstm_forget_biases_over_the_delay_range():
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, EncoderConfig(hidden_size=200, num_layers=2, bidirectional=True,
                                            init="chrono", max_delay=100))
    for layer in enc.layers:
        for suffix in ("", "_reverse"):
            b_ih = getattr(layer.rnn, f"bias_ih_l0{suffix}")
            b_hh = getattr(layer.rnn, f"bias_hh_l0{suffix}")
            forget = b_ih[200:400] + b_hh[200:400]
            # b_f = log(U[1, 99]): in [0, log 99], input gate the negative, hidden biases 0
            assert forget.min() >= 0 and forget.max() <= torch.log(torch.tensor(99.0)) + 1e-6
            assert torch.equal(b_ih[:200], -b_ih[200:400])
            assert torch.count_nonzero(b_hh[:400]) == 0
            memory = expected_memory(forget)  # ~ 1 + U[1, 99]: some units remember ~100 steps
            assert memory.max() > 80 and memory.min() < 5
            assert torch.count_nonzero(b_ih[400:]) == 0  # cell and output gates untouched


def test_chrono_sets_the_gru_update_gate():
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, EncoderConfig(cell="gru", hidden_size=8, init="chrono",
                                            max_delay=10))
    rnn = enc.layers[0].rnn
    update = rnn.bias_ih_l0[8:16]
    assert update.min() >= 0 and update.max() <= torch.log(torch.tensor(9.0)) + 1e-6
    assert torch.count_nonzero(rnn.bias_ih_l0[:8]) == 0
    assert torch.count_nonzero(rnn.bias_hh_l0[8:16]) == 0


def test_chrono_counts_the_biases_it_sets():
    enc = RecurrentEncoder(3, EncoderConfig(hidden_size=4, num_layers=3, bidirectional=True))
    assert chrono_init(enc, "lstm", 20) == 6  # 3 layers x 2 directions


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"init": "glorot"}, "init"),
    ({"cell": "rnn", "init": "chrono", "max_delay": 10}, "init"),
    ({"init": "chrono", "max_delay": 2}, "max_delay"),
])
def test_bad_init_config_names_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        EncoderConfig(**kwargs)


def test_forget_bias_sets_the_lstm_forget_gate_of_every_layer():
    enc = RecurrentEncoder(3, EncoderConfig(hidden_size=4, num_layers=2))
    assert all(torch.equal(layer.rnn.bias_ih_l0[4:8], torch.ones(4)) for layer in enc.layers)
    enc = RecurrentEncoder(3, EncoderConfig(hidden_size=4, num_layers=2, forget_bias=0))
    for layer in enc.layers:
        assert torch.count_nonzero(layer.rnn.bias_ih_l0) == 0
        assert torch.count_nonzero(layer.rnn.bias_hh_l0) == 0
    enc = RecurrentEncoder(3, EncoderConfig(hidden_size=4, forget_bias=-0.5))
    assert torch.equal(enc.layers[0].rnn.bias_ih_l0[4:8], torch.full((4,), -0.5))


@pytest.mark.parametrize("kwargs", [
    {"cell": "gru", "forget_bias": 0.0},
    {"init": "chrono", "max_delay": 10, "forget_bias": 0.0},
    {"forget_bias": "zero"},
])
def test_forget_bias_only_where_a_forget_gate_takes_it(kwargs):
    with pytest.raises(ConfigError, match="forget_bias"):
        EncoderConfig(**kwargs)


def test_chrono_without_a_delay_says_so():
    with pytest.raises(ConfigError, match="max_delay"):
        RecurrentEncoder(3, EncoderConfig(init="chrono"))


def test_the_task_takes_max_delay_from_the_data():
    from seqlstm.data import CopyTask
    from seqlstm.tasks import build_task

    spec = CopyTask(length=20, copy_length=4, train_size=4, val_size=4, test_size=4).spec
    assert spec.extra["max_delay"] == 28
    task = build_task({"encoder": {"hidden_size": 8, "init": "chrono"}}, spec)
    forget = task.encoder.layers[0].rnn.bias_ih_l0[8:16]
    assert forget.max() <= torch.log(torch.tensor(27.0)) + 1e-6 and forget.min() >= 0
