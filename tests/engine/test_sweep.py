"""Sweeps (engine/sweep.py): K variants trained as one stacked model give each variant the run that
the same configuration gives alone, variant by variant, and a variant that ends leaves the others be."""

import math

import pytest
import torch
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.choices import ACTIVATIONS, OPTIMIZERS, SCHEDULES
from nnplayground.engine.config import ConfigError
from nnplayground.engine.sweep import ACTIVATION_GRADS, Sweep, _Stack, expand

from .helpers import cfg

REL = 1e-5


def small(**sections) -> RunConfig:
    """Few samples and epochs: the equivalence holds per step, so a short run tests it."""
    sections.setdefault("dataset", {"n_samples": 120})
    training = {"epochs": 3, **sections.pop("training", {})}
    return cfg(training=training, **sections)


def train(sweep: Sweep) -> dict[int, list[dict]]:
    events = {k: [] for k in range(len(sweep.trainers))}
    while not sweep.done:
        for k, ev in sweep.step().items():
            events[k] += ev
    return events


def alone(config: RunConfig) -> Trainer:
    t = Trainer(config)
    for _ in t:
        pass
    return t


def assert_same_run(variant: Trainer, solo: Trainer) -> None:
    """Per epoch, the losses (within REL relative), learning rate and final status of the two runs."""
    assert variant.status == solo.status
    assert len(variant.history) == len(solo.history)
    for a, b in zip(variant.history, solo.history, strict=True):
        for key in ("train_loss", "val_loss"):
            assert a[key] == pytest.approx(b[key], rel=REL), (a["epoch"], key)
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-12)
        # the per-layer telemetry the variant's own Trainer measures on the stacked weights and gradients
        for key in ("grad_norm", "weight_norm"):
            assert a[key].keys() == b[key].keys()
            for layer, value in a[key].items():
                assert value == pytest.approx(b[key][layer], rel=1e-4, abs=1e-7), (a["epoch"], key, layer)
    assert variant.best_epoch == solo.best_epoch


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_variant_equals_its_config_trained_alone_per_optimizer(name):
    base = small(optimizer={"name": name, "weight_decay": 0.01})
    variants = expand(base, {"optimizer.lr": [0.003, 0.05], "training.seed": [0, 1]})
    sweep = Sweep([c for _, c in variants])
    assert sweep.groups == [[0, 1, 2, 3]]  # one stacked model
    train(sweep)
    for (values, c), t in zip(variants, sweep.trainers, strict=True):
        assert c.optimizer.lr == values["optimizer.lr"] and c.training.seed == values["training.seed"]
        assert_same_run(t, alone(c))
    # the variants really differ: a stacking bug that trained one model K times would pass the above only once
    finals = {round(t.history[-1]["train_loss"], 6) for t in sweep.trainers}
    assert len(finals) == 4


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_l1_variants_equal_their_config_trained_alone(name):
    # the L1 term is part of a run's loss with every optimizer: the stack adds its gradient, lambda1*sign(w)
    base = small(optimizer={"name": name, "l1": 0.01, "weight_decay": 0.005})
    variants = expand(base, {"optimizer.lr": [0.01, 0.1]})
    sweep = Sweep([c for _, c in variants])
    assert sweep.groups == [[0, 1]]
    train(sweep)
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        solo = alone(c)
        assert_same_run(t, solo)
        for a, b in zip(t.history, solo.history, strict=True):
            assert a["penalty_l1"] == pytest.approx(b["penalty_l1"], rel=1e-4)


@pytest.mark.parametrize("name", [s for s in SCHEDULES if s != "constant"])
def test_each_variant_equals_its_config_trained_alone_per_schedule(name):
    base = small(
        training={"epochs": 6},
        optimizer={"name": "momentum"},
        schedule={"name": name, "step_size": 2, "gamma": 0.5, "patience": 1, "factor": 0.5},
    )
    variants = expand(base, {"optimizer.lr": [0.01, 0.3]})
    sweep = Sweep([c for _, c in variants])
    train(sweep)
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        solo = alone(c)
        assert_same_run(t, solo)
    lrs = [r["lr"] for r in sweep.trainers[1].history]
    assert lrs[-1] < lrs[0]  # the schedule did move each variant's learning rate


def test_early_stopped_variant_stops_updating_and_the_others_go_on():
    base = small(
        training={"epochs": 12},
        optimizer={"lr": 0.5},
        early_stopping={"enabled": True, "patience": 1, "restore_best": True},
    )
    variants = expand(base, {"early_stopping.patience": [1, 1000]})
    sweep = Sweep([c for _, c in variants])
    events = train(sweep)
    quick, patient = sweep.trainers
    assert quick.status == "early_stopped" and quick.epoch < 12
    assert patient.status == "completed" and patient.epoch == 12
    # after its run_end a variant reports nothing more
    ends = [i for i, e in enumerate(events[0]) if e["type"] == "run_end"]
    assert ends == [len(events[0]) - 1]
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        solo = alone(c)
        assert_same_run(t, solo)
        # the weights handed back (restored best for the early-stopped one) are the solo run's
        for a, b in zip(t.model.state_dict().values(), solo.model.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_diverged_variant_does_not_end_the_sweep():
    # the example of a diverging run: learning rate 10 on the default spiral (500 samples)
    variants = expand(small(dataset={"n_samples": 500}, training={"epochs": 4}), {"optimizer.lr": [10.0, 0.03]})
    sweep = Sweep([c for _, c in variants])
    events = train(sweep)
    bad, good = sweep.trainers
    assert bad.status == "diverged"
    assert any(e["type"] == "marker" and e["kind"] == "diverged" for e in events[0])
    assert good.status == "completed" and good.epoch == 4
    assert_same_run(good, alone(variants[1][1]))
    assert all(math.isfinite(r["train_loss"]) for r in good.history)


def test_stopping_one_variant_freezes_its_weights_while_the_others_train():
    variants = expand(small(training={"epochs": 4}), {"training.seed": [0, 1, 2]})
    sweep = Sweep([c for _, c in variants])
    sweep.start()
    sweep.step()
    ev = sweep.stop(1)
    assert ev[-1]["type"] == "run_end" and ev[-1]["status"] == "stopped"
    frozen = {k: v.clone() for k, v in sweep.trainers[1].model.state_dict().items()}
    rest = train(sweep)
    assert 1 not in rest or rest[1] == []
    for k, v in sweep.trainers[1].model.state_dict().items():
        assert torch.equal(v, frozen[k])
    for k in (0, 2):
        assert sweep.trainers[k].status == "completed"
        assert_same_run(sweep.trainers[k], alone(variants[k][1]))


def test_shape_changing_axes_form_separate_groups_each_equal_to_alone():
    variants = expand(small(), {"model.hidden": [[4], [8, 8]], "optimizer.lr": [0.01, 0.1]})
    sweep = Sweep([c for _, c in variants])
    assert sweep.groups == [[0, 1], [2, 3]]
    train(sweep)
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        assert_same_run(t, alone(c))


def test_batch_norm_variants_train_one_by_one_with_the_same_results():
    variants = expand(small(model={"batch_norm": True}), {"optimizer.lr": [0.01, 0.1]})
    sweep = Sweep([c for _, c in variants])
    assert sweep.groups == [[0], [1]]
    train(sweep)
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        assert_same_run(t, alone(c))


def test_init_scheme_axis_each_variant_starts_from_its_own_scheme():
    variants = expand(small(), {"init.scheme": ["xavier", "he", "pytorch_default", "zeros"]})
    sweep = Sweep([c for _, c in variants])
    assert len(sweep.groups) == 1
    train(sweep)
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        assert_same_run(t, alone(c))


def test_dropout_masks_zero_each_variants_units_at_its_own_rate():
    variants = expand(small(), {"model.dropout": [0.0, 0.2, 0.5]})
    sweep = Sweep([c for _, c in variants])
    stack = _Stack(sweep.trainers)
    x = torch.ones(3, 200, 50)
    y = stack.dropout(x, torch.tensor([0.0, 0.2, 0.5]).view(-1, 1, 1))
    assert torch.equal(y[0], x[0])  # p = 0: untouched
    for k, p in ((1, 0.2), (2, 0.5)):
        zeroed = (y[k] == 0).float().mean().item()
        n = y[k].numel()
        assert abs(zeroed - p) < 4 * math.sqrt(p * (1 - p) / n)  # within 4 standard errors
        kept = y[k][y[k] != 0]
        torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
        assert y[k].mean().item() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the mean


def test_dropout_sweep_is_reproducible_and_its_p0_variant_equals_alone():
    def run():
        variants = expand(small(), {"model.dropout": [0.0, 0.3]})
        sweep = Sweep([c for _, c in variants])
        train(sweep)
        return variants, sweep

    variants, a = run()
    _, b = run()
    assert [r["train_loss"] for r in a.trainers[1].history] == [r["train_loss"] for r in b.trainers[1].history]
    assert_same_run(a.trainers[0], alone(variants[0][1]))


def test_every_activation_has_its_derivative_for_the_explicit_backward_pass():
    assert set(ACTIVATION_GRADS) == set(ACTIVATIONS)


@pytest.mark.parametrize("dataset", ["spiral", "sine"])
@pytest.mark.parametrize(
    "model",
    [{"activation": a} for a in ACTIVATIONS]
    + [{"activations": ["tanh", "leaky_relu", "sigmoid"], "hidden": [6, 5, 4], "leaky_slope": 0.2}],
    ids=lambda m: m.get("activation") or "mixed",
)
def test_explicit_backward_pass_gives_autograds_gradients(dataset, model):
    """The stack's written-out backward pass (what trains a sweep) against autograd through the same stacked
    forward pass, with the same dropout masks: the gradient of every variant's mean batch loss."""
    variants = expand(small(dataset={"name": dataset, "n_samples": 120}, model=model), {"model.dropout": [0.0, 0.3]})
    variants += expand(small(dataset={"name": dataset, "n_samples": 120}, model=model), {"training.seed": [7]})
    stack = _Stack(Sweep([c for _, c in variants]).trainers)
    assert stack.act_grads is not None
    h = stack.hypers()
    t0 = stack.trainers[0]
    torch.manual_seed(0)  # scale the inputs up so that activations saturate and ReLUs die in some units
    idx = torch.randint(len(t0.y_train), (3, 16))
    x, y = t0.x_train[idx] * 3, t0.y_train[idx]
    for train_mode in (True, False):
        state = stack.drop_gen.get_state()
        explicit = stack.gradients(x, y, h, train_mode)
        stack.drop_gen.set_state(state)
        auto = torch.autograd.grad(stack.loss(stack.forward(x, h, train_mode), y), stack.params)
        assert len(explicit) == len(auto) == len(stack.params)
        for e, a, p in zip(explicit, auto, stack.params, strict=True):
            assert e.shape == p.shape
            torch.testing.assert_close(e, a, rtol=1e-5, atol=1e-7)
        assert any(g.abs().max() > 1e-3 for g in auto)  # not all zero: the comparison means something


# ---- expanding the vary spec -----------------------------------------------------------------------


def test_grid_takes_every_combination_first_axis_slowest():
    v = expand({}, {"optimizer.lr": [0.1, 0.2], "init.scheme": ["xavier", "he", "zeros"]}, "grid")
    assert [x for x, _ in v] == [
        {"optimizer.lr": lr, "init.scheme": s} for lr in (0.1, 0.2) for s in ("xavier", "he", "zeros")
    ]
    assert [(c.optimizer.lr, c.init.scheme) for _, c in v] == [
        (lr, s) for lr in (0.1, 0.2) for s in ("xavier", "he", "zeros")
    ]


def test_zip_pairs_the_ith_values_and_needs_equal_lengths():
    v = expand({}, {"optimizer.lr": [0.1, 0.2], "training.seed": [5, 6]}, "zip")
    assert [(c.optimizer.lr, c.training.seed) for _, c in v] == [(0.1, 5), (0.2, 6)]
    with pytest.raises(ConfigError) as e:
        expand({}, {"optimizer.lr": [0.1, 0.2], "training.seed": [5]}, "zip")
    assert e.value.field == "vary"


@pytest.mark.parametrize(
    ("base", "vary", "mode", "field"),
    [
        ({}, {"optimizer.lrr": [0.1]}, "grid", "vary.optimizer.lrr"),
        ({}, {"optimiser.lr": [0.1]}, "grid", "vary.optimiser.lr"),
        ({}, {"optimizer": [0.1]}, "grid", "vary.optimizer"),
        ({}, {"optimizer.lr": [0.1, -1.0]}, "grid", "vary.optimizer.lr"),
        ({}, {"optimizer.name": ["sgd", "lbfgs"]}, "grid", "vary.optimizer.name"),
        ({}, {"optimizer.lr": []}, "grid", "vary.optimizer.lr"),
        ({}, {}, "grid", "vary"),
        ({}, {"optimizer.lr": [0.1]}, "diagonal", "mode"),
        ({"optimizer": {"lr": 99}}, {"training.seed": [1]}, "grid", "base.optimizer.lr"),
    ],
)
def test_bad_axes_name_the_path(base, vary, mode, field):
    with pytest.raises(ConfigError) as e:
        expand(base, vary, mode)
    assert e.value.field == field


def test_the_variant_limit_is_enforced():
    with pytest.raises(ConfigError) as e:
        expand({}, {"optimizer.lr": [0.1, 0.2, 0.3], "training.seed": [1, 2, 3]}, limit=8)
    assert e.value.field == "vary" and "9 variants" in e.value.message
    assert len(expand({}, {"optimizer.lr": [0.1, 0.2, 0.3], "training.seed": [1, 2, 3]}, limit=9)) == 9


def test_noise_augmented_variants_draw_their_own_noise_and_equal_alone():
    # augmentation draws from each variant's own generator, as the Trainer does, so even it matches
    variants = expand(small(), {"augmentation.noise_std": [0.0, 0.3], "training.epochs": [2, 4]}, "zip")
    sweep = Sweep([c for _, c in variants])
    assert len(sweep.groups) == 1
    train(sweep)
    assert [t.epoch for t in sweep.trainers] == [2, 4]  # each variant ends at its own last epoch
    for (_, c), t in zip(variants, sweep.trainers, strict=True):
        assert_same_run(t, alone(c))
