import math

import pytest
import torch
from nnplayground.engine.config import ScheduleConfig
from nnplayground.engine.optimizers import EMAMomentum, Schedule

from .helpers import cfg, run


def _quadratic_grads(w):
    # gradient of 0.5 * sum(a * w^2): an elongated bowl, the picture where momentum helps
    a = torch.tensor([1.0, 25.0])
    return a * w


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_course_formula(nesterov):
    alpha, lr = 0.9, 0.02
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    opt = EMAMomentum([w], lr=lr, alpha=alpha, nesterov=nesterov)
    ref_w, v = torch.tensor([3.0, -2.0]), torch.zeros(2)  # V_0 = 0
    for _ in range(12):
        g = _quadratic_grads(ref_w)
        v = alpha * v + (1 - alpha) * g
        step = alpha * v + (1 - alpha) * g if nesterov else v
        ref_w = ref_w - lr * step
        w.grad = _quadratic_grads(w.detach())
        opt.step()
        torch.testing.assert_close(w.detach(), ref_w, rtol=1e-6, atol=1e-7)


def test_course_momentum_differs_from_pytorch_sgd_momentum():
    # PyTorch's buffer starts at the first gradient and has no (1 - alpha): the first step is 10x larger.
    w1 = torch.nn.Parameter(torch.tensor([1.0]))
    w2 = torch.nn.Parameter(torch.tensor([1.0]))
    ours = EMAMomentum([w1], lr=0.1, alpha=0.9)
    theirs = torch.optim.SGD([w2], lr=0.1, momentum=0.9)
    w1.grad, w2.grad = torch.tensor([1.0]), torch.tensor([1.0])
    ours.step()
    theirs.step()
    assert w1.item() == pytest.approx(1 - 0.1 * 0.1)
    assert w2.item() == pytest.approx(1 - 0.1)


def _descend(opt_name, lr, steps):
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    opt = torch.optim.SGD([w], lr=lr) if opt_name == "sgd" else EMAMomentum([w], lr=lr, alpha=0.9)
    path = []
    for _ in range(steps):
        w.grad = _quadratic_grads(w.detach())
        opt.step()
        path.append(w.detach().clone())
    loss = 0.5 * (torch.tensor([1.0, 25.0]) * path[-1] ** 2).sum().item()
    return torch.stack(path), loss


def test_momentum_smooths_the_zigzag():
    # Near SGD's stability limit (lr < 2/25) plain SGD flips sign on the steep axis at every step.
    sgd_path, _ = _descend("sgd", 0.075, 60)
    mom_path, _ = _descend("momentum", 0.075, 60)
    flips = lambda p: int((p[1:, 1].sign() != p[:-1, 1].sign()).sum())  # noqa: E731
    assert flips(sgd_path) == 59
    assert flips(mom_path) < 15


def test_momentum_stays_stable_where_sgd_diverges():
    _, sgd_loss = _descend("sgd", 0.2, 60)
    _, mom_loss = _descend("momentum", 0.2, 100)
    assert not sgd_loss < 1e6  # overflowed to inf/nan
    assert mom_loss < 1e-3


def _lrs(schedule_cfg, epochs=12, val_losses=None):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = Schedule(ScheduleConfig(**schedule_cfg), opt, epochs)
    out = []
    for e in range(epochs):
        out.append(s.lr)
        opt.step()
        s.after_epoch(val_losses[e] if val_losses else 1.0)
    return out


def test_step_schedule_multiplies_every_k_epochs():
    lrs = _lrs({"name": "step", "step_size": 4, "gamma": 0.5})
    assert lrs[:4] == [1.0] * 4 and lrs[4:8] == [0.5] * 4 and lrs[8:] == [0.25] * 4


def test_exponential_schedule():
    lrs = _lrs({"name": "exponential", "gamma": 0.9})
    assert lrs == pytest.approx([0.9**e for e in range(12)])


def test_plateau_schedule_waits_patience_epochs():
    losses = [1.0, 0.9, 0.8] + [0.8] * 9
    lrs = _lrs({"name": "plateau", "factor": 0.5, "patience": 2}, val_losses=losses)
    # best at epoch index 2; the 2nd epoch without improvement after it (patience=2, Keras's
    # convention, as early stopping) triggers the cut, which applies from the next epoch
    assert lrs[:5] == [1.0] * 5 and lrs[5] == 0.5


def test_cosine_schedule_ends_near_min():
    lrs = _lrs({"name": "cosine", "min_lr": 0.0}, epochs=10)
    assert lrs[0] == 1.0 and lrs[5] == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_lr_change_markers_and_recorded_lr():
    t, ev = run(cfg(schedule={"name": "step", "step_size": 3, "gamma": 0.1}, training={"epochs": 7}))
    recs = [e for e in ev if e["type"] == "epoch"]
    assert [r["lr"] for r in recs[1:]] == pytest.approx([0.03] * 3 + [0.003] * 3 + [0.0003])
    changes = [e for e in ev if e["type"] == "marker" and e["kind"] == "lr_change"]
    assert [c["epoch"] for c in changes] == [3, 6]


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_every_optimizer_learns_gauss(name):
    lr = {"adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01, "adamw": 0.01}.get(name, 0.1)
    t, ev = run(
        cfg(dataset={"name": "gauss", "n_samples": 200}, optimizer={"name": name, "lr": lr}, training={"epochs": 8})
    )
    recs = [e for e in ev if e["type"] == "epoch"]
    assert recs[-1]["val_acc"] > 0.9
    assert recs[-1]["train_loss"] < recs[0]["train_loss"]
