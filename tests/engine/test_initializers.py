import pytest
import torch
from nnplayground.engine.config import InitConfig, ModelConfig
from nnplayground.engine.initializers import initialize
from nnplayground.engine.models import build

from .helpers import cfg, run


def _layer(scheme, **kw):
    net = build(ModelConfig(hidden=[256]), (800,), 2, cnn=False)
    initialize(net, InitConfig(scheme=scheme, **kw), torch.Generator().manual_seed(0))
    return net.blocks["fc1"].layer, net


@pytest.mark.parametrize(
    "scheme,kw,expected",
    [
        ("he", {}, 2 / 800),
        ("xavier", {}, 1 / 800),
        ("xavier", {"xavier_mode": "fan_avg"}, 2 / (800 + 256)),
        ("normal", {"std": 0.05}, 0.05**2),
    ],
)
def test_empirical_variance_matches_scheme(scheme, kw, expected):
    layer, _ = _layer(scheme, **kw)
    w = layer.weight
    assert abs(w.mean().item()) < 0.01 * expected**0.5 * 10
    assert w.var().item() == pytest.approx(expected, rel=0.03)
    assert torch.count_nonzero(layer.bias) == 0


def test_he_variance_on_conv_uses_fan_in_of_the_kernel():
    net = build(ModelConfig(conv_channels=[64, 64]), (1, 8, 8), 10, cnn=True)
    initialize(net, InitConfig(scheme="he"), torch.Generator().manual_seed(0))
    w = net.blocks["conv2"].layer.weight
    assert w.var().item() == pytest.approx(2 / (64 * 9), rel=0.05)


def test_zeros_and_constant():
    layer, net = _layer("zeros")
    assert torch.count_nonzero(layer.weight) == 0 and torch.count_nonzero(net.out.weight) == 0
    layer, _ = _layer("constant", std=0.3)
    assert torch.all(layer.weight == 0.3) and torch.all(layer.bias == 0.3)


def _incoming(trainer, name):
    return trainer.model.blocks[name].layer.weight.detach()


def test_zero_init_keeps_hidden_units_identical_after_training():
    config = dict(
        dataset={"name": "circle", "n_samples": 200},
        model={"hidden": [6, 6], "activation": "sigmoid"},
        optimizer={"name": "adam", "lr": 0.05},
        training={"epochs": 20},
    )
    t, _ = run(cfg(init={"scheme": "zeros"}, **config))
    for name in ("fc1", "fc2"):
        w = _incoming(t, name)
        assert torch.allclose(w, w[:1].expand_as(w)), f"{name}: units diverged from each other"
    w2 = _incoming(t, "fc2")
    assert w2.abs().sum() > 0  # it did train: the units moved, just all together
    t_he, _ = run(cfg(init={"scheme": "he"}, **config))
    w = _incoming(t_he, "fc1")
    assert not torch.allclose(w, w[:1].expand_as(w))
    assert t_he.history[-1]["val_acc"] > t.history[-1]["val_acc"]
