import torch
from nnplayground.engine import Trainer
from nnplayground.engine.config import ModelConfig
from nnplayground.engine.models import build, mc_predict, predict

from .helpers import cfg


def test_batch_norm_running_mean_follows_course_rule():
    torch.manual_seed(0)
    alpha = 0.8
    net = build(ModelConfig(hidden=[5], batch_norm=True, bn_alpha=alpha), (3,), 2, cnn=False)
    bn = net.blocks["fc1"].bn
    x = torch.randn(32, 3) * 2 + 1
    net.train()
    net(x)
    batch_mean = net.blocks["fc1"].layer(x).mean(0)  # BN normalizes the pre-activation, Linear's output
    # running mean starts at 0: mu_1 = alpha*0 + (1 - alpha)*mu_batch
    torch.testing.assert_close(bn.running_mean, (1 - alpha) * batch_mean.detach())
    x2 = torch.randn(32, 3)
    net(x2)
    mu2 = alpha * (1 - alpha) * batch_mean + (1 - alpha) * net.blocks["fc1"].layer(x2).mean(0)
    torch.testing.assert_close(bn.running_mean, mu2.detach())


def test_batch_norm_sits_before_the_activation_with_learnable_gamma_beta():
    net = build(ModelConfig(hidden=[4], batch_norm=True, activation="sigmoid"), (3,), 2, cnn=False)
    block = net.blocks["fc1"]
    names = [n for n, _ in block.named_children()]
    assert names.index("bn") < names.index("act")
    assert block.bn.weight.requires_grad and block.bn.bias.requires_grad
    net.train()
    z = block.bn(block.layer(torch.randn(64, 3) * 10))
    # normalized per unit over the batch: mean 0, variance 1 (gamma=1, beta=0 at start)
    torch.testing.assert_close(z.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.var(0, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)


def test_dropout_is_inverted_and_off_in_evaluation():
    torch.manual_seed(0)
    net = build(ModelConfig(hidden=[200], dropout=0.5, activation="linear"), (1,), 1, cnn=False)
    drop = net.blocks["fc1"].drop
    x = torch.ones(1000, 200)
    drop.train()
    y = drop(x)
    kept = y != 0
    assert 0.45 < kept.float().mean() < 0.55  # Bernoulli mask
    assert torch.allclose(y[kept], torch.full_like(y[kept], 2.0))  # survivors scaled by 1/(1-p)
    drop.eval()
    assert torch.equal(drop(x), x)


def test_evaluation_is_deterministic_and_mc_dropout_is_not():
    t = Trainer(
        cfg(
            dataset={"name": "moons", "n_samples": 200},
            model={"hidden": [32, 32], "dropout": 0.3},
            training={"epochs": 5},
        )
    )
    list(t)
    x = t.x_val[:50]
    t.model.eval()
    p1, p2 = predict(t.model, x, False), predict(t.model, x, False)
    assert torch.equal(p1, p2)
    m1, s1 = mc_predict(t.model, x, 20, False)
    m2, _ = mc_predict(t.model, x, 20, False)
    assert not torch.equal(m1, m2)
    assert (s1 > 0).float().mean() > 0.9
    assert not t.model.training and t.model.blocks["fc1"].drop.training is False  # left as found
    api = t.predict(t.data.raw_val[:5].tolist(), mc_samples=10)
    assert all(sum(row) > 0 for row in api["std"])


def test_per_layer_activation_and_dropout():
    net = build(
        ModelConfig(hidden=[4, 4], activations=["tanh", "leaky_relu"], leaky_slope=0.2, dropouts=[0.0, 0.5]),
        (2,),
        2,
        cnn=False,
    )
    assert net.blocks["fc1"].activation_name == "tanh" and net.blocks["fc1"].drop is None
    assert net.blocks["fc2"].act.negative_slope == 0.2 and net.blocks["fc2"].drop.p == 0.5


def test_cnn_for_digits_has_conv_blocks_then_head():
    t = Trainer(
        cfg(dataset={"name": "digits"}, model={"hidden": [16], "conv_channels": [4, 8]}, training={"epochs": 1})
    )
    names = [layer["name"] for layer in t.model.describe()]
    assert names == ["conv1", "conv2", "fc1", "out"]
    assert t.model(t.x_val[:3]).shape == (3, 10)
