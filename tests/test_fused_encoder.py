"""The fused multi-layer path of the encoder: same numbers, same parameters as layer by layer."""

from __future__ import annotations

import copy

import pytest
import torch

from seqlstm.nn.encoder import EncoderConfig, RecurrentEncoder, can_fuse

CASES = [
    {"cell": "lstm", "num_layers": 2},
    {"cell": "lstm", "num_layers": 3, "bidirectional": True},
    {"cell": "lstm", "num_layers": 2, "proj_size": 5},
    {"cell": "gru", "num_layers": 2, "bidirectional": True},
    {"cell": "rnn", "num_layers": 2},
]


def pair(**options) -> tuple[RecurrentEncoder, RecurrentEncoder]:
    """A fused encoder and a copy forced onto the per-layer path (the same weights)."""
    torch.manual_seed(0)
    fused = RecurrentEncoder(6, EncoderConfig(hidden_size=12, **options))
    layered = copy.deepcopy(fused)
    layered.__dict__["fused"] = None
    assert fused.fused is not None
    return fused, layered


@pytest.mark.parametrize("options", CASES, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_fused_stack_gives_the_per_layer_outputs_state_and_gradients(options, packed):
    fused, layered = pair(**options)
    x = torch.randn(4, 7, 6)
    lengths = torch.tensor([7, 3, 5, 1]) if packed else None
    config = fused.config
    rows = config.num_layers * config.num_directions
    h = torch.randn(rows, 4, config.layer_output_size)
    state = (h, torch.randn(rows, 4, config.hidden_size)) if config.cell == "lstm" else h
    results = []
    for encoder in (fused, layered):
        out, new_state = encoder(x, state, lengths)  # (B, T, D * H)
        loss = out.square().sum() + sum(s.sum() for s in torch.atleast_1d(new_state))
        loss.backward()
        results.append((out, new_state, {n: p.grad for n, p in encoder.named_parameters()}))
    (out_f, state_f, grads_f), (out_l, state_l, grads_l) = results
    torch.testing.assert_close(out_f, out_l, rtol=1e-6, atol=1e-6)
    for a, b in zip(torch.atleast_1d(state_f), torch.atleast_1d(state_l), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    assert grads_f.keys() == grads_l.keys()
    for name in grads_f:
        torch.testing.assert_close(grads_f[name], grads_l[name], rtol=1e-5, atol=1e-6)


def test_state_dicts_are_the_same_either_way_and_load_across():
    fused, _ = pair(cell="lstm", num_layers=2, dropout=0.3)
    locked = RecurrentEncoder(6, EncoderConfig(hidden_size=12, num_layers=2, dropout=0.3,
                                               dropout_kind="locked"))
    assert locked.fused is None  # locked dropout keeps the per-layer path
    assert list(fused.state_dict()) == list(locked.state_dict())
    assert "layers.1.rnn.weight_hh_l0" in fused.state_dict()
    locked.load_state_dict(fused.state_dict())
    fused.eval(), locked.eval()  # no dropout: the two paths compute the same function
    x = torch.randn(2, 5, 6)
    torch.testing.assert_close(fused(x)[0], locked(x)[0], rtol=1e-6, atol=1e-6)


def test_dropout_between_layers_acts_in_training_only():
    fused, _ = pair(cell="lstm", num_layers=2, dropout=0.5)
    x = torch.randn(3, 6, 6)
    fused.eval()
    assert torch.equal(fused(x)[0], fused(x)[0])
    fused.train()
    assert not torch.equal(fused(x)[0], fused(x)[0])


@pytest.mark.parametrize(("options", "fuses"), [
    ({"num_layers": 1}, False),
    ({"num_layers": 2}, True),
    ({"num_layers": 2, "dropout": 0.2}, True),
    ({"num_layers": 2, "dropout": 0.2, "dropout_kind": "locked"}, False),
    ({"num_layers": 2, "dropout_kind": "locked", "output_dropout": 0.2}, True),
    ({"num_layers": 2, "weight_drop": 0.3}, False),
])
def test_which_stacks_fuse(options, fuses):
    assert can_fuse(EncoderConfig(**options)) is fuses
