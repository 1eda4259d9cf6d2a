"""Lesson claims: each lesson's sentence as a measurement with a criterion.

A claim names a *quantity* (a function of a finished run: its per-epoch records, summary, config
and final model), a comparison `op` and a `threshold`. Two scopes:

- ``run``: measured on one run. A run whose config names the lesson (`RunConfig.lesson`) reports
  every such claim in `summary.claims` with the measured figure and whether it held; when the
  student changed a setting and the claim no longer holds, it says so (`holds: false`).
- ``compare``: the lesson run against a variant (`against`: ``"try"``, the lesson's "now try"
  override, or an override dict). The quantity is measured on both runs and combined (`combine`:
  ``diff`` = lesson - variant, ``gain`` = variant - lesson, ``ratio`` = lesson / variant,
  ``variant`` = the variant's value alone). These are checked by the test suite
  (tests/engine/test_lesson_claims.py) on several seeds and served with the preset, not evaluated
  per run.

Sentences (`en`, `es`) are ``str.format`` templates: ``{value}`` is the measured figure, other
fields are the details the quantity reports (e.g. ``{min_epoch}``)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Claim:
    """One measurable sentence of a lesson. `threshold` may be a config path ("early_stopping.patience")
    read from the lesson run's config."""

    id: str
    quantity: str
    op: str
    threshold: float | str
    en: str
    es: str
    scope: str = "run"
    args: dict = field(default_factory=dict)
    against: str | dict | None = None
    combine: str = "diff"

    def public(self) -> dict:
        """The JSON form served with the preset."""
        out = {
            "id": self.id,
            "scope": self.scope,
            "quantity": self.quantity,
            "args": self.args,
            "op": self.op,
            "threshold": self.threshold,
            "en": self.en,
            "es": self.es,
        }
        if self.scope == "compare":
            out["against"], out["combine"] = self.against, self.combine
        return out


# ---- quantities: f(run, **args) -> (value or None, details) ------------------------------------
# `run` is a finished Trainer (history, summary(), config, model, data, regression).


def _series(run, key: str) -> list[float | None]:
    return [r.get(key) for r in run.history]


def _argmin(values: list[float | None]) -> int | None:
    finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    return min(finite)[1] if finite else None


def q_val_rise(run) -> tuple[float | None, dict]:
    """Relative rise of the validation loss at the last trained epoch above its minimum."""
    vl = _series(run, "val_loss")
    i = _argmin(vl)
    if i is None or vl[-1] is None or vl[i] <= 0:
        return None, {}
    return vl[-1] / vl[i] - 1, {"min_epoch": i, "last_epoch": len(vl) - 1}


def q_train_drop_after_val_min(run) -> tuple[float | None, dict]:
    """Relative fall of the training loss from the epoch of the validation minimum to the last epoch."""
    vl, tl = _series(run, "val_loss"), _series(run, "train_loss")
    i = _argmin(vl)
    if i is None or tl[-1] is None or not tl[i]:
        return None, {}
    return 1 - tl[-1] / tl[i], {"min_epoch": i}


def q_best_epoch(run) -> tuple[float | None, dict]:
    best = run.summary()["best_epoch"]
    return best, {}


def q_stop_wait(run) -> tuple[float | None, dict]:
    """Epochs between the best epoch and the early stop; None when the run did not stop early."""
    s = run.summary()
    if s["stopped_epoch"] is None or s["best_epoch"] is None:
        return None, {}
    return s["stopped_epoch"] - s["best_epoch"], {"best_epoch": s["best_epoch"], "stopped_epoch": s["stopped_epoch"]}


def q_restored_is_best(run) -> tuple[float | None, dict]:
    """1 when the final model is the best epoch's checkpoint (restored), else 0."""
    s = run.summary()
    ok = s["restored_best"] and s["restored_epoch"] == s["best_epoch"]
    return float(ok), {"restored_epoch": s["restored_epoch"]}


def q_final(run, key: str) -> tuple[float | None, dict]:
    """A record field of the model handed back (the summary's final_*)."""
    return run.summary().get(f"final_{key}"), {}


def q_last(run, key: str) -> tuple[float | None, dict]:
    return run.history[-1].get(key), {}


def q_acc_gap(run) -> tuple[float | None, dict]:
    """Training minus validation accuracy of the model handed back (how much of the fit is memorized)."""
    r = run.history[run.summary()["restored_epoch"] or -1]
    if r.get("train_acc") is None or r.get("val_acc") is None:
        return None, {}
    return r["train_acc"] - r["val_acc"], {"train_acc": r["train_acc"], "val_acc": r["val_acc"]}


def q_grad_ratio(run, first: str, last: str) -> tuple[float | None, dict]:
    """Mean over trained epochs of grad_norm[first] / grad_norm[last]."""
    ratios = []
    for r in run.history[1:]:
        g = r.get("grad_norm") or {}
        if g.get(first) is not None and g.get(last):
            ratios.append(g[first] / g[last])
    if not ratios:
        return None, {}
    return sum(ratios) / len(ratios), {}


def q_active_fraction(run) -> tuple[float | None, dict]:
    """Smallest per-layer active_fraction of the last epoch (the worst layer), with its name."""
    act = {k: v for k, v in (run.history[-1].get("active_fraction") or {}).items() if v is not None}
    if not act:
        return None, {}
    worst = min(act, key=act.get)
    return act[worst], {"layer": worst}


def q_active_fraction_mean(run) -> tuple[float | None, dict]:
    """Mean over layers and trained epochs of active_fraction."""
    vals = [v for r in run.history[1:] for v in (r.get("active_fraction") or {}).values() if v is not None]
    return (sum(vals) / len(vals), {}) if vals else (None, {})


def q_weight_norm_total(run) -> tuple[float | None, dict]:
    """L2 norm of all weight matrices together at the last epoch: sqrt(sum of the squared per-layer norms)."""
    norms = [v for v in (run.history[-1].get("weight_norm") or {}).values() if v is not None]
    return (math.sqrt(sum(v * v for v in norms)), {}) if norms else (None, {})


@torch.no_grad()
def q_unit_spread(run) -> tuple[float | None, dict]:
    """Largest difference between two units' incoming weights in any hidden layer of the final model:
    0 means every unit of a layer is a copy of the others."""
    spread = 0.0
    for block in run.model.blocks.values():
        w = block.layer.weight.detach().flatten(1)
        spread = max(spread, (w - w[:1]).abs().max().item())
    return spread, {}


def q_epochs_to(run, key: str, level: float) -> tuple[float | None, dict]:
    """First epoch whose `key` reaches `level` (None = never)."""
    for r in run.history:
        if r.get(key) is not None and r[key] >= level:
            return r["epoch"], {}
    return None, {}


def q_lr_cuts(run) -> tuple[float | None, dict]:
    """How many times the learning rate was reduced, and the final learning rate."""
    lrs = _series(run, "lr")
    cuts = sum(1 for a, b in zip(lrs, lrs[1:], strict=False) if b < a)
    return cuts, {"final_lr": lrs[-1]}


def q_jitter(run, key: str, last: int) -> tuple[float | None, dict]:
    """Mean absolute epoch-to-epoch change of `key` over the last `last` epochs."""
    v = [x for x in _series(run, key)[-last - 1 :] if x is not None]
    if len(v) < 2:
        return None, {}
    return sum(abs(b - a) for a, b in zip(v, v[1:], strict=False)) / (len(v) - 1), {}


def q_loss_increases(run, key: str = "train_loss") -> tuple[float | None, dict]:
    """Share of trained epochs whose `key` rose above the previous epoch's (a zig-zagging run)."""
    v = _series(run, key)
    pairs = [(a, b) for a, b in zip(v, v[1:], strict=False) if a is not None and b is not None]
    if not pairs:
        return None, {}
    return sum(b > a for a, b in pairs) / len(pairs), {}


def q_penalty_share(run) -> tuple[float | None, dict]:
    """penalty / train_loss at the last epoch: how much of the minimised loss is the L2 term."""
    r = run.history[-1]
    if r.get("penalty") is None or not r.get("train_loss"):
        return None, {}
    return r["penalty"] / r["train_loss"], {}


@torch.no_grad()
def q_curve_roughness(run, points: int = 200) -> tuple[float | None, dict]:
    """1-D regression: total variation of the fitted curve over the data's x-range (in units of y),
    a measure of how wiggly the fit is."""
    if not run.regression:
        return None, {}
    # in the model's (preprocessed) input space, over the training points' span
    span = run.x_train.abs().max().item()
    x = torch.linspace(-span, span, points, dtype=run.x_train.dtype, device=run.x_train.device).unsqueeze(1)
    y = run.model.eval()(x).squeeze(-1)
    return (y[1:] - y[:-1]).abs().sum().item(), {}


@torch.no_grad()
def q_mc_spread_ratio(run, samples: int = 30, resolution: int = 40) -> tuple[float | None, dict]:
    """2-D classification, MC dropout over the plane shown in the output view (a grid over the data's
    bounds): mean spread (std of the class-1 probability) where the prediction is fragile (mean within
    0.25 of 0.5: between and beyond the classes) over where it is confident."""
    from . import models, telemetry

    if run.regression or not run.data.plane:
        return None, {}
    x = run.data.preprocess(telemetry.grid(run.data.bounds(), resolution)).to(run.device)
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        mean, std = models.mc_predict(run.model, x, samples, run.regression)
    finally:
        torch.random.set_rng_state(gen_state)
        run.model.eval()
    p, s = mean[:, 1], std[:, 1]
    fragile = (p - 0.5).abs() < 0.25
    if not fragile.any() or fragile.all():
        return None, {}
    sure_mean = s[~fragile].mean().item()
    details = {"fragile": s[fragile].mean().item(), "sure": sure_mean}
    return (s[fragile].mean().item() / sure_mean if sure_mean > 0 else math.inf), details


@torch.no_grad()
def q_mc_spread(run, samples: int = 30) -> tuple[float | None, dict]:
    """Mean MC-dropout spread (std of the predicted probabilities) over the validation points."""
    from . import models

    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        _, std = models.mc_predict(run.model, run.x_val, samples, run.regression)
    finally:
        torch.random.set_rng_state(gen_state)
        run.model.eval()
    return std.mean().item(), {}


QUANTITIES: dict[str, Callable] = {
    "val_rise": q_val_rise,
    "train_drop_after_val_min": q_train_drop_after_val_min,
    "best_epoch": q_best_epoch,
    "stop_wait": q_stop_wait,
    "restored_is_best": q_restored_is_best,
    "final": q_final,
    "last": q_last,
    "acc_gap": q_acc_gap,
    "grad_ratio": q_grad_ratio,
    "active_fraction": q_active_fraction,
    "active_fraction_mean": q_active_fraction_mean,
    "unit_spread": q_unit_spread,
    "weight_norm_total": q_weight_norm_total,
    "epochs_to": q_epochs_to,
    "lr_cuts": q_lr_cuts,
    "jitter": q_jitter,
    "loss_increases": q_loss_increases,
    "penalty_share": q_penalty_share,
    "curve_roughness": q_curve_roughness,
    "mc_spread_ratio": q_mc_spread_ratio,
    "mc_spread": q_mc_spread,
}


def _threshold(claim: Claim, config) -> float:
    if isinstance(claim.threshold, str):
        value = config
        for part in claim.threshold.split("."):
            value = getattr(value, part)
        return float(value)
    return float(claim.threshold)


def measure(claim: Claim, run) -> tuple[float | None, dict]:
    value, details = QUANTITIES[claim.quantity](run, **claim.args)
    if value is not None and not math.isfinite(value):
        value = None
    return value, details


def _sentence(template: str, value: float | None, details: dict, threshold: float, lang: str) -> str:
    if value is None:
        return "not measurable on this run" if lang == "en" else "no se puede medir en esta corrida"
    try:
        return template.format(value=value, threshold=threshold, **details)
    except (KeyError, ValueError, IndexError):  # a detail missing on this run: the figure alone
        return f"{value:.3g}"


def verdict(claim: Claim, value: float | None, details: dict, config) -> dict:
    """The summary entry of one claim: {id, holds, measured, en, es}."""
    threshold = _threshold(claim, config)
    holds = value is not None and OPS[claim.op](value, threshold)
    return {
        "id": claim.id,
        "holds": bool(holds),
        "measured": value,
        "threshold": threshold,
        "en": _sentence(claim.en, value, details, threshold, "en"),
        "es": _sentence(claim.es, value, details, threshold, "es"),
    }


def evaluate_run(claims: list[Claim], run) -> list[dict]:
    """Every `run`-scope claim measured on one finished run."""
    out = []
    for c in claims:
        if c.scope != "run":
            continue
        try:
            value, details = measure(c, run)
        except Exception:  # noqa: BLE001 - a claim that cannot be measured must not fail the run
            value, details = None, {}
        out.append(verdict(c, value, details, run.config))
    return out


def evaluate_compare(claim: Claim, lesson_run, variant_run) -> dict:
    """A `compare` claim on the lesson run and its variant run."""
    a, details = measure(claim, lesson_run)
    b, details_b = measure(claim, variant_run)
    details = {**details, **{f"{k}_variant": v for k, v in details_b.items()}, "lesson": a, "variant": b}
    if a is None and claim.combine != "variant" or b is None:
        value = None
    elif claim.combine == "ratio":
        value = a / b if b else math.inf
    elif claim.combine == "variant":
        value = b
    elif claim.combine == "gain":
        value = b - a
    else:
        value = a - b
    return verdict(claim, value, details, lesson_run.config)


# ---- unit knock-out (the dropout-knockout lesson) -------------------------------------------------


def q_knockout_drop(run) -> tuple[float | None, dict]:
    """Validation accuracy lost when the run's most important hidden unit is knocked out: every unit of
    every fully connected hidden layer is switched off in turn (models.knocked_out, evaluation mode)
    and the largest drop is kept; details name that unit ({layer}, {unit}) and the intact accuracy."""
    if run.regression:
        return None, {}
    base = run.validation()["val_acc"]
    if base is None:
        return None, {}
    worst = None
    for name, block in run.model.blocks.items():
        if not name.startswith("fc"):
            continue
        for unit in range(block.layer.out_features):
            acc = run.validation([(name, unit)])["val_acc"]
            if acc is not None and (worst is None or base - acc > worst[0]):
                worst = (base - acc, name, unit)
    if worst is None:
        return None, {}
    return worst[0], {"layer": worst[1], "unit": worst[2], "intact": base}


QUANTITIES["knockout_drop"] = q_knockout_drop
