"""The recurrent encoder, dropout kinds, init and hidden-state helpers."""

from __future__ import annotations

import pytest
import torch

from seqlstm.errors import ConfigError
from seqlstm.nn import EncoderConfig, LockedDropout, RecurrentEncoder, embedding_dropout
from seqlstm.nn.encoder import join_layers, split_layers


def encoder(input_size: int = 5, **kwargs) -> RecurrentEncoder:
    torch.manual_seed(0)
    return RecurrentEncoder(input_size, EncoderConfig(**{"hidden_size": 8, **kwargs}))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_of_output_and_state(cell, bidirectional):
    enc = encoder(cell=cell, num_layers=3, bidirectional=bidirectional)
    out, state = enc(torch.randn(4, 7, 5))
    d = 2 if bidirectional else 1
    assert out.shape == (4, 7, 8 * d)
    states = state if cell == "lstm" else (state,)
    for s in states:
        assert s.shape == (3 * d, 4, 8)


def test_lstm_projection_shrinks_outputs_and_h_but_not_c():
    out, (h, c) = encoder(num_layers=2, proj_size=3)(torch.randn(2, 6, 5))
    assert out.shape == (2, 6, 3)
    assert h.shape == (2, 2, 3) and c.shape == (2, 2, 8)


def test_state_in_equals_continuing_the_sequence():
    enc = encoder(num_layers=2).eval()
    x = torch.randn(3, 10, 5)
    full, _ = enc(x)
    first, state = enc(x[:, :6])
    second, _ = enc(x[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), full, atol=1e-6, rtol=1e-5)


def test_stacked_equals_torch_multilayer_lstm_with_same_weights():
    enc = encoder(num_layers=2).eval()
    ref = torch.nn.LSTM(5, 8, num_layers=2, batch_first=True)
    with torch.no_grad():
        for layer_index, layer in enumerate(enc.layers):
            for name, param in layer.rnn.named_parameters():
                getattr(ref, name.replace("l0", f"l{layer_index}")).copy_(param)
    x = torch.randn(2, 9, 5)
    torch.testing.assert_close(enc(x)[0], ref(x)[0])


def test_init_is_orthogonal_per_gate_with_forget_bias_one():
    layer = encoder(num_layers=1).layers[0].rnn
    for gate in layer.weight_hh_l0.detach().chunk(4):
        torch.testing.assert_close(gate @ gate.T, torch.eye(8), atol=1e-5, rtol=0)
    assert layer.bias_ih_l0[8:16].eq(1).all() and layer.bias_ih_l0[:8].eq(0).all()
    assert layer.bias_hh_l0.eq(0).all()


def test_packed_sequences_ignore_padding_and_return_zeros_there():
    enc = encoder(num_layers=2, bidirectional=True).eval()
    x = torch.randn(2, 6, 5)
    lengths = torch.tensor([6, 3])
    padded = x.clone()
    padded[1, 3:] = 99.0  # garbage in the padding must not matter
    out, _ = enc(padded, lengths=lengths)
    alone, _ = enc(x[1:, :3])
    torch.testing.assert_close(out[1, :3], alone[0], atol=1e-6, rtol=1e-5)
    assert out[1, 3:].abs().sum() == 0


def test_weight_drop_changes_outputs_in_training_only_and_keeps_gradients():
    enc = encoder(weight_drop=0.5)
    x = torch.randn(2, 5, 5)
    enc.train()
    a, _ = enc(x)
    b, _ = enc(x)
    assert not torch.allclose(a, b)
    a.sum().backward()
    assert enc.layers[0].rnn.weight_hh_l0.grad.abs().sum() > 0
    enc.eval()  # eval: the full recurrent weights, as an encoder without weight drop
    torch.testing.assert_close(enc(x)[0], encoder()(x)[0], rtol=0, atol=0)


def test_locked_dropout_shares_its_mask_over_time():
    torch.manual_seed(0)
    drop = LockedDropout(0.5).train()
    out = drop(torch.ones(3, 20, 4))
    zero = out == 0
    assert zero.any() and (zero == zero[:, :1]).all()
    assert set(out.unique().tolist()) <= {0.0, 2.0}


def test_locked_dropout_through_the_encoder_is_one_mask_per_sequence():
    """``dropout_kind=locked``: between layers and on the outputs, each sequence gets one
    feature mask for all its steps (other sequences their own), scaled by 1 / (1 - p), and
    eval is the identity."""
    enc = encoder(num_layers=2, dropout=0.5, output_dropout=0.5, dropout_kind="locked")
    assert isinstance(enc.between, LockedDropout) and isinstance(enc.output_dropout,
                                                                 LockedDropout)
    seen = {}
    enc.layers[0].register_forward_hook(lambda m, args, out: seen.update(first=out[0]))
    enc.layers[1].register_forward_hook(lambda m, args, out: seen.update(second_in=args[0],
                                                                         second=out[0]))
    x = torch.randn(1, 12, 5).repeat(6, 1, 1)  # six copies of one sequence
    torch.manual_seed(1)
    out, _ = enc.train()(x)  # (B, T, H)
    for dropped, before in ((seen["second_in"], seen["first"]), (out, seen["second"])):
        mask = dropped != 0  # (B, T, H): LSTM outputs are never exactly 0
        assert (mask == mask[:, :1]).all()  # the same mask at every step
        assert 0.2 < mask.float().mean() < 0.8
        assert len({tuple(row) for row in mask[:, 0].tolist()}) > 1  # each sequence its own
        torch.testing.assert_close(dropped[mask], 2 * before[mask])
    reference = encoder(num_layers=2)  # same seed: the same weights, no dropout
    torch.testing.assert_close(enc.eval()(x)[0], reference(x)[0], rtol=0, atol=0)


def test_embedding_dropout_drops_whole_token_types():
    torch.manual_seed(0)
    embed = torch.nn.Embedding(10, 4)
    ids = torch.tensor([[1, 1, 2, 2, 3, 3] * 5])
    out = embedding_dropout(embed, ids, 0.5, training=True)
    dropped = out.abs().sum(-1) == 0
    for token in (1, 2, 3):
        column = dropped[ids == token]
        assert column.all() or not column.any()
    torch.testing.assert_close(embedding_dropout(embed, ids, 0.5, training=False), embed(ids))


def test_split_and_join_layers_round_trip():
    config = EncoderConfig(hidden_size=4, num_layers=3, bidirectional=True)
    h, c = torch.randn(6, 2, 4), torch.randn(6, 2, 4)
    parts = split_layers((h, c), config)
    assert len(parts) == 3 and parts[1][0].shape == (2, 2, 4)
    joined = join_layers(parts)
    assert torch.equal(joined[0], h) and torch.equal(joined[1], c)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": -3}, "hidden_size"),
        ({"num_layers": 0}, "num_layers"),
        ({"cell": "lstn"}, "cell"),
        ({"dropout": 1.0, "num_layers": 2}, "dropout"),
        ({"dropout": -0.1, "num_layers": 2}, "dropout"),
        ({"dropout": 0.2, "num_layers": 1}, "dropout"),
        ({"output_dropout": 1.5}, "output_dropout"),
        ({"weight_drop": 1.0}, "weight_drop"),
        ({"dropout_kind": "gaussian"}, "dropout_kind"),
        ({"proj_size": 2, "cell": "gru"}, "proj_size"),
        ({"proj_size": 300}, "proj_size"),
    ],
)
def test_bad_encoder_config_names_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=rf"config key '{key}' must be"):
        EncoderConfig(**kwargs)
