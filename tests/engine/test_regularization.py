import math

import pytest
import torch
from nnplayground.engine import Trainer
from nnplayground.engine.regularization import EarlyStopping, decayed_params, l2_penalty

from .helpers import cfg, run

# Few noisy points, a big network, full batch: the training loss goes to ~0 by memorizing the noise.
OVERFIT = dict(
    dataset={"name": "sine", "n_samples": 24, "noise": 0.5},
    model={"hidden": [128, 128], "activation": "tanh"},
    init={"scheme": "xavier"},
    training={"epochs": 400, "batch_size": 24},
)
ADAM = {"name": "adam", "lr": 0.01}


def test_overfitting_validation_loss_turns_back_up():
    t, _ = run(cfg(**OVERFIT, optimizer=ADAM))
    val = [r["val_loss"] for r in t.history]
    train = [r["train_loss"] for r in t.history]
    best = min(range(len(val)), key=val.__getitem__)
    assert 0 < best < len(val) - 50
    assert val[-1] > 1.5 * val[best]  # validation got worse after its minimum...
    assert train[-1] < train[best]  # ...while the training loss kept falling


def test_early_stopping_stops_within_patience_and_restores_best():
    patience = 30
    t, ev = run(
        cfg(**OVERFIT, optimizer=ADAM, early_stopping={"enabled": True, "patience": patience, "restore_best": True})
    )
    val = [r["val_loss"] for r in t.history]
    best = min(range(len(val)), key=val.__getitem__)
    s = t.summary()
    assert t.status == "early_stopped"
    assert s["best_epoch"] == best and s["stopped_epoch"] == best + patience
    assert s["restored_best"] is True
    assert s["final_val_loss"] == s["best_val_loss"]  # the summary describes the model handed back
    # the model we hand back is the best epoch's: its validation loss is the best recorded one
    t.model.eval()
    loss, _ = t._evaluate(t.x_val, t.y_val)
    assert loss == pytest.approx(s["best_val_loss"], rel=1e-6)
    kinds = [e["kind"] for e in ev if e["type"] == "marker"]
    assert "early_stop" in kinds and "restore_best" in kinds
    assert ev[-1]["type"] == "run_end" and ev[-1]["status"] == "early_stopped"


def test_early_stopping_min_delta_and_patience_logic():
    es = EarlyStopping(patience=2, min_delta=0.1)
    assert not es.update(1, 1.0)
    assert not es.update(2, 0.95)  # not better by more than min_delta
    assert es.update(3, 0.92)  # second epoch without improvement: stop
    assert es.best_epoch == 1


def test_every_epoch_is_checkpointed_and_restorable():
    t, _ = run(cfg(training={"epochs": 6}))
    assert t.checkpoints.epochs() == list(range(7))
    t.load_epoch(3)
    t.model.eval()
    loss, _ = t._evaluate(t.x_val, t.y_val)
    assert loss == pytest.approx(t.history[3]["val_loss"], rel=1e-6)


def test_checkpoints_are_thinned_but_keep_initial_best_and_latest():
    t, _ = run(cfg(training={"epochs": 60}, telemetry={"max_checkpoints": 10}))
    kept = t.checkpoints.epochs()
    assert len(kept) <= 11
    assert 0 in kept and 60 in kept and t.best_epoch in kept


def test_penalty_is_half_lambda_squared_norm_of_weights_only():
    lam = 0.01
    t = Trainer(cfg(optimizer={"weight_decay": lam}, training={"epochs": 1}))
    ev = t.start()
    weights = [m.weight for m in t.model.weight_layers().values()]
    expected = 0.5 * lam * sum((w.detach() ** 2).sum().item() for w in weights)
    rec = next(e for e in ev if e["type"] == "epoch")
    assert rec["penalty"] == pytest.approx(expected, rel=1e-5)
    assert len(decayed_params(t.model, decay_biases=False)) == len(weights)
    assert len(decayed_params(t.model, decay_biases=True)) == 2 * len(weights)
    assert l2_penalty([torch.ones(3)], 2.0).item() == pytest.approx(3.0)


@pytest.mark.parametrize(
    "opt,lr,lam",
    # AdamW's decay is decoupled (w -= lr*lambda*w each step), so it needs a larger lambda to show
    [("sgd", 0.01, 0.05), ("momentum", 0.05, 0.05), ("adam", 0.01, 0.05), ("adamw", 0.01, 1.0)],
)
def test_weight_decay_lowers_final_weight_norm(opt, lr, lam):
    def total_norm(wd):
        t, _ = run(
            cfg(
                **{**OVERFIT, "training": {"epochs": 150, "batch_size": 24}},
                optimizer={"name": opt, "lr": lr, "weight_decay": wd},
            )
        )
        assert t.status == "completed"
        return math.sqrt(sum(v**2 for v in t.history[-1]["weight_norm"].values()))

    assert total_norm(lam) < 0.95 * total_norm(0.0)
