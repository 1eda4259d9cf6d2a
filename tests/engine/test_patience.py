"""One meaning of patience and one best epoch.

Early stopping and the plateau schedule follow Keras's convention: with patience N they act at the
end of the N-th consecutive epoch without improvement (N = 0 acts like 1), and epoch 0 (the initial
weights) is the first reference. A learning-rate change decided after epoch E applies from epoch
E+1. With early stopping on, the run's best epoch is the one early stopping restores."""

import copy
import math

import pytest
import torch
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import ScheduleConfig
from nnplayground.engine.optimizers import Schedule
from nnplayground.engine.regularization import EarlyStopping

from .helpers import cfg, run


def _markers(ev, kind):
    return [e for e in ev if e["type"] == "marker" and e["kind"] == kind]


# ---- issue 9, item 6: the restored epoch is the reported best epoch ------------------------------

ISSUE_EXAMPLE = {
    "dataset": {"name": "sine", "n_samples": 40, "noise": 0.3},
    "model": {"hidden": [32, 32]},
    "optimizer": {"name": "adam", "lr": 0.05},
    "early_stopping": {"enabled": True, "patience": 2},
    "training": {"epochs": 10},
}


def test_early_stopping_restores_the_best_epoch_it_reports_even_epoch_0():
    t = Trainer(RunConfig.model_validate(ISSUE_EXAMPLE))
    ev = list(t)
    val = [r["val_loss"] for r in t.history]
    # epoch 0 is the best; epochs 1 and 2 are worse: patience 2 stops at epoch 2
    assert val[0] < min(val[1:]) and len(val) == 3
    s = t.summary()
    assert t.status == "early_stopped" and s["stopped_epoch"] == 2
    assert s["best_epoch"] == 0 and s["restored_best"] is True and s["restored_epoch"] == 0
    # 1.0979 in the issue, measured before standardization took the population standard deviation
    # (scikit-learn's StandardScaler, issue 9 item 5)
    assert s["best_val_loss"] == pytest.approx(1.1219, abs=1e-4) == val[0]
    assert s["final_val_loss"] == val[0] and s["final_train_loss"] == t.history[0]["train_loss"]
    assert [m["epoch"] for m in _markers(ev, "best")] == [0]
    assert _markers(ev, "early_stop")[0]["best_epoch"] == 0
    assert _markers(ev, "restore_best")[0]["restored_epoch"] == 0
    assert "for 2 epochs after epoch 0" in s["message"]

    # the model handed back (what the worker stores as the final state and exports) is epoch 0's
    kept = t.checkpoints.get(0)
    for k, v in t.model.state_dict().items():
        assert torch.equal(v.cpu(), kept[k])
    fresh = copy.deepcopy(t.model)
    fresh.load_state_dict(kept)
    x = t.data.raw_val.tolist()
    assert t.predict(x) == t.predict(x, epoch=0)
    fresh.eval()
    with torch.no_grad():
        expected = fresh(t.data.preprocess(torch.tensor(x))).squeeze(-1)
    assert t.predict(x)["mean"] == pytest.approx(expected.tolist(), abs=1e-6)
    t.model.eval()
    assert t._evaluate(t.x_val, t.y_val)[0] == pytest.approx(s["best_val_loss"], rel=1e-6)


def test_best_epoch_follows_the_early_stopping_monitor():
    t, ev = run(
        cfg(
            dataset={"name": "moons", "n_samples": 200, "noise": 0.3},
            model={"hidden": [16, 16]},
            optimizer={"name": "adam", "lr": 0.05},
            early_stopping={"enabled": True, "monitor": "val_acc", "patience": 4, "min_delta": 0.01},
            training={"epochs": 60},
        )
    )
    acc = [r["val_acc"] for r in t.history]
    # the improvements early stopping counts: beating the best val_acc by more than min_delta
    best, expected = -math.inf, []
    for e, a in enumerate(acc):
        if a > best + 0.01:
            best = a
            expected.append(e)
    s = t.summary()
    assert [m["epoch"] for m in _markers(ev, "best")] == expected
    assert all(m["monitor"] == "val_acc" and m["value"] == acc[m["epoch"]] for m in _markers(ev, "best"))
    assert s["best_epoch"] == expected[-1] == _markers(ev, "early_stop")[0]["best_epoch"]
    assert s["restored_epoch"] == s["best_epoch"] and s["stopped_epoch"] == s["best_epoch"] + 4
    assert s["best_val_loss"] == t.history[s["best_epoch"]]["val_loss"] == s["final_val_loss"]
    assert s["final_val_acc"] == acc[s["best_epoch"]]


def test_without_early_stopping_the_best_epoch_is_the_lowest_val_loss():
    t, ev = run(cfg(dataset={"name": "moons", "n_samples": 100}, training={"epochs": 12}))
    val = [r["val_loss"] for r in t.history]
    best = min(range(len(val)), key=val.__getitem__)
    assert t.summary()["best_epoch"] == best and t.summary()["restored_epoch"] is None
    assert _markers(ev, "best")[-1]["epoch"] == best and _markers(ev, "best")[0]["epoch"] == 0


# ---- issue 9, item 7: one meaning of patience --------------------------------------------------


def _cut_epoch(patience: int, values: list[float]) -> int | None:
    """The epoch after which the plateau schedule cuts the LR, epoch 0 given as the baseline."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = Schedule(ScheduleConfig(name="plateau", patience=patience, factor=0.5), opt, len(values))
    s.baseline(values[0])
    for epoch, v in enumerate(values[1:], start=1):
        s.after_epoch(v)
        if s.lr != 1.0:
            return epoch
    return None


def _stop_epoch(patience: int, values: list[float]) -> int | None:
    es = EarlyStopping(patience)
    for epoch, v in enumerate(values):
        if es.update(epoch, v):
            return epoch
    return None


PATIENCE = (0, 1, 2, 3, 5)


@pytest.mark.parametrize(
    "values,expected",
    [
        # never better than epoch 0: act on the N-th epoch after it
        ([1.0] * 12, (1, 1, 2, 3, 5)),
        # best at epoch 2; epoch 4 only equals it, which is no improvement
        ([1.0, 0.9, 0.8, 0.85, 0.8, 0.9, 0.95, 0.99, 1.0, 1.1, 1.2, 1.3], (3, 3, 4, 5, 7)),
        # epochs 2 and 4 improve and restart the count: 1 bad epoch, 1 bad epoch, then 5, 6, 7...
        ([1.0, 1.1, 0.7, 0.75, 0.6, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], (1, 1, 6, 7, 9)),
    ],
)
def test_plateau_cuts_and_early_stopping_stops_on_the_same_epoch(values, expected):
    for patience, epoch in zip(PATIENCE, expected, strict=True):
        assert _stop_epoch(patience, values) == epoch, patience
        assert _cut_epoch(patience, values) == epoch, patience


# Weights that cannot move: SGD at lr 1e-12 changes no float32 weight of order 0.1-1 and the
# validation loss stays that of epoch 0, so "no improvement" is exactly known at every epoch.
FROZEN = dict(
    dataset={"name": "moons", "n_samples": 80}, optimizer={"name": "sgd", "lr": 1e-12}, training={"epochs": 8}
)


def _lrs_and_cuts(schedule: dict, **extra):
    t, ev = run(cfg(**{**FROZEN, **extra}, schedule=schedule))
    recs = [e for e in ev if e["type"] == "epoch"]
    return t, [r["lr"] for r in recs], [m["epoch"] for m in _markers(ev, "lr_change")]


def test_schedule_constant_never_cuts():
    _, lrs, cuts = _lrs_and_cuts({"name": "constant"})
    assert cuts == [] and lrs == [1e-12] * 9


def test_schedule_step_cuts_after_every_step_size_epochs():
    _, lrs, cuts = _lrs_and_cuts({"name": "step", "step_size": 3, "gamma": 0.5})
    # record E holds the LR epoch E trained with: epochs 1-3 at lr, 4-6 at lr/2, 7-8 at lr/4
    assert cuts == [3, 6]  # none after the last epoch (8): no epoch would use it
    assert lrs == pytest.approx([1e-12] * 4 + [5e-13] * 3 + [2.5e-13] * 2)


def test_schedule_exponential_cuts_after_every_epoch():
    _, lrs, cuts = _lrs_and_cuts({"name": "exponential", "gamma": 0.5})
    assert cuts == list(range(1, 8))
    assert lrs == pytest.approx([1e-12] + [1e-12 * 0.5 ** (e - 1) for e in range(1, 9)])


def test_schedule_cosine_anneals_over_the_run():
    _, lrs, cuts = _lrs_and_cuts({"name": "cosine", "min_lr": 0.0})
    assert cuts == list(range(1, 8))
    assert lrs == pytest.approx([1e-12] + [1e-12 * (1 + math.cos(math.pi * (e - 1) / 8)) / 2 for e in range(1, 9)])


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_schedule_plateau_cuts_on_the_patience_th_epoch_after_epoch_0(patience):
    t, lrs, cuts = _lrs_and_cuts({"name": "plateau", "patience": patience, "factor": 0.5})
    assert len({r["val_loss"] for r in t.history}) == 1  # the premise: no epoch improves on epoch 0
    # epoch 0 is the baseline, so the first cut follows epoch `patience`; the count restarts after a cut
    assert cuts == list(range(patience, 8, patience))
    n_cuts = [sum(c < e for c in cuts) for e in range(9)]
    assert lrs == pytest.approx([1e-12 * 0.5**k for k in n_cuts])


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_early_stopping_stops_on_the_patience_th_epoch_after_epoch_0(patience):
    t, lrs, cuts = _lrs_and_cuts({"name": "constant"}, early_stopping={"enabled": True, "patience": patience})
    assert len({r["val_loss"] for r in t.history}) == 1
    s = t.summary()
    assert t.status == "early_stopped" and s["stopped_epoch"] == max(patience, 1) and s["best_epoch"] == 0


def test_plateau_and_early_stopping_with_equal_patience_act_on_the_same_epoch():
    t, lrs, cuts = _lrs_and_cuts(
        {"name": "plateau", "patience": 3}, early_stopping={"enabled": True, "patience": 3}, training={"epochs": 8}
    )
    # both reach their 3rd epoch without improvement at epoch 3; the run stops there, so the cut
    # that would have applied from epoch 4 is never announced
    assert t.summary()["stopped_epoch"] == 3 and cuts == []
    t, lrs, cuts = _lrs_and_cuts({"name": "plateau", "patience": 3}, early_stopping={"enabled": True, "patience": 4})
    assert cuts == [3] and t.summary()["stopped_epoch"] == 4 and lrs[4] == pytest.approx(5e-13)


def test_train_epoch_and_step_are_the_same_epoch():
    config = cfg(dataset={"n_samples": 80}, training={"epochs": 3}, early_stopping={"enabled": False})
    by_name, by_alias = Trainer(config), Trainer(config)
    by_name.start(), by_alias.start()
    for epoch in (1, 2, 3):
        a, b = by_name.train_epoch(), by_alias.step()
        assert [e["type"] for e in a] == [e["type"] for e in b]
        assert a[0]["epoch"] == b[0]["epoch"] == epoch and a[0]["val_loss"] == b[0]["val_loss"]
    assert a[-1]["type"] == "run_end" and by_name.status == by_alias.status == "completed"
    assert by_name.train_epoch() == by_alias.step() == []  # nothing after the end
