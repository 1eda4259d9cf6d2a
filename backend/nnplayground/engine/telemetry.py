"""Telemetry probes: what the charts show about the inside of the network.

Per-layer numbers come from a fixed probe batch run in evaluation mode with forward hooks that are
attached only for that pass, so the training steps themselves pay nothing for them.

Every number that leaves this module is JSON-safe: a run that diverges has NaN/inf in its weights,
activations and gradients, and JSON has neither, so a non-finite number is reported as null (None)
and a histogram bins only the finite values and counts the others apart (`nonfinite`)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .models import Net

SATURATION = {"sigmoid": (0.025, 0.975), "tanh": (-0.95, 0.95)}
# The course's useful range of a sigmoid pre-activation, |z| <= 2.5 (sigma'(2.5) is ~0.07 of its 0.25
# peak); tanh(z) = 2*sigmoid(2z) - 1, so its range is half as wide.
ACTIVE_RANGE = {"sigmoid": 2.5, "tanh": 1.25}


def _unit_view(t: torch.Tensor) -> torch.Tensor:
    """(samples*positions, units): conv channels count as units."""
    return t.transpose(0, 1).flatten(1).T if t.dim() == 4 else t


def finite_or_none(x: float | None) -> float | None:
    """`x` as a float, or None when it is missing, NaN or infinite (JSON's null)."""
    return float(x) if x is not None and math.isfinite(x) else None


def _per_layer(names, values: torch.Tensor) -> dict[str, float | None]:
    return dict(zip(names, map(finite_or_none, values.tolist()), strict=True))


class GradMeter:
    """Mean per-layer gradient L2 norm over an epoch's steps. With many small steps the measurement
    itself would dominate, so at most `samples` evenly spaced steps are measured (0 = every step).
    Each measured step costs one fused norm over all gradients; per-layer sums wait for the epoch end."""

    def __init__(self, model: Net, steps_per_epoch: int, samples: int):
        groups = {n: [p for p in ps if p.requires_grad] for n, ps in model.layer_params().items()}
        self.names = [n for n, ps in groups.items() if ps]
        self.params = [p for n in self.names for p in groups[n]]
        device = self.params[0].device if self.params else torch.device("cpu")
        self.index = torch.tensor([i for i, n in enumerate(self.names) for _ in groups[n]], device=device)
        self.stride = 1 if samples == 0 else max(1, -(-steps_per_epoch // samples))
        self.rows = torch.zeros(-(-max(steps_per_epoch, 1) // self.stride), len(self.params), device=device)
        self.reset()

    def reset(self):
        self.step = self.measured = 0

    def due(self) -> bool:
        """Whether the coming `record()` measures this step."""
        return self.step % self.stride == 0 and bool(self.params) and self.measured < len(self.rows)

    def record(self, norms: torch.Tensor | None = None):
        """Call after backward, once per optimizer step. `norms`: this step's per-parameter gradient
        norms when the caller measured them already (a sweep measures all its variants at once);
        else they are taken from the parameters' `.grad`."""
        if self.due():
            if norms is not None:
                self.rows[self.measured].copy_(norms)
            else:
                grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
                torch.stack(torch._foreach_norm(grads), out=self.rows[self.measured])
            self.measured += 1
        self.step += 1

    def measured_steps(self, steps: int) -> list[int]:
        """The steps (0-based) of an epoch of `steps` optimizer steps whose norms `record()` measures."""
        return list(range(0, steps, self.stride))[: len(self.rows)] if self.params else []

    def load(self, norms: torch.Tensor, steps: int) -> None:
        """An epoch's measurements at once: `norms` (measured steps, parameters) are the per-parameter
        gradient norms of `measured_steps(steps)`, as `steps` calls of `record()` would have left them
        (a sweep measures all its variants' steps together and hands each its rows at the epoch's end)."""
        if len(norms):
            self.rows[: len(norms)].copy_(norms)
        self.measured, self.step = len(norms), steps

    def means(self) -> dict[str, float | None]:
        """Per layer, the mean over the measured steps of the gradient's L2 norm; None for a layer
        whose gradient was NaN/inf (or overflowed) in any measured step."""
        if not self.measured:
            return {}
        sq = self.rows[: self.measured].square()
        per_layer = torch.zeros(self.measured, len(self.names), device=sq.device).index_add_(1, self.index, sq)
        return _per_layer(self.names, per_layer.sqrt().mean(0))


def weight_norms(model: Net) -> dict[str, float | None]:
    """Per layer, the L2 norm of the weight matrix/kernel; None when it is not finite."""
    layers = model.weight_layers()
    return _per_layer(layers, torch.stack(torch._foreach_norm([m.weight.detach() for m in layers.values()])))


ZERO_WEIGHT = 0.01
"""A weight is "near zero" when |w| < 0.01: in the diagram its link is too thin to see (TensorFlow
Playground scales a link's width with |w|), and L1 leaves the weights it switches off oscillating within
lr * lambda1 of zero, far below it at the usual step sizes (SGD, lr 0.03, lambda1 0.01: 3e-4)."""


def zero_fractions(model: Net) -> dict[str, float | None]:
    """Per layer, the share (0 to 1) of the weight matrix/kernel's entries with |w| < ZERO_WEIGHT
    (biases not counted); None when a weight is not finite."""
    out = {}
    for name, m in model.weight_layers().items():
        w = m.weight.detach()
        out[name] = (w.abs() < ZERO_WEIGHT).float().mean().item() if torch.isfinite(w).all() else None
    return out


def weight_copies(model: Net) -> list[torch.Tensor]:
    return [m.weight.detach().clone() for m in model.weight_layers().values()]


def update_ratios(model: Net, before: list[torch.Tensor]) -> dict[str, float | None]:
    """||W_end - W_start|| / ||W_start|| over the epoch: how hard the step size pushes each layer
    (None where either is not finite)."""
    layers = model.weight_layers()
    now = [m.weight.detach() for m in layers.values()]
    diff = torch._foreach_sub(now, before)
    num = torch.stack(torch._foreach_norm(diff))
    den = torch.stack(torch._foreach_norm(before)).clamp_min(1e-12)
    return _per_layer(layers, num / den)


def _hist(t: torch.Tensor, bins: int) -> dict:
    """`bins` equal bins over the range of the finite values of `t`: {min, max, counts, nonfinite}.
    NaN and +-inf have no bin: `nonfinite` counts them, so sum(counts) + nonfinite = t.numel().
    With no finite value at all, min and max are None and every count is 0."""
    # float64: a float32 span as wide as +-3e38 overflows inside histc and would count nothing
    t = t.detach().flatten().double()
    lo, hi = (v.item() for v in torch.aminmax(t))
    nonfinite = 0
    if not (math.isfinite(lo) and math.isfinite(hi)):  # aminmax propagates NaN, so this catches both
        finite = torch.isfinite(t)
        t = t[finite]
        nonfinite = int(finite.numel() - t.numel())
        if not t.numel():
            return {"min": None, "max": None, "counts": [0] * bins, "nonfinite": nonfinite}
        lo, hi = (v.item() for v in torch.aminmax(t))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(t, bins=bins, min=lo, max=hi)
    return {"min": lo, "max": hi, "counts": counts.to(torch.int64).tolist(), "nonfinite": nonfinite}


def stacked_histograms(t: torch.Tensor, bins: int) -> list[dict]:
    """`_hist` of each `t[k]` ((K, ...) -> K histograms) in a few batched operations: a sweep's K
    variants pay the per-call overhead once. The bins are histc's own, bin = floor((x - min) * bins /
    (max - min)) with the maximum in the last bin, computed in float64 as histc does, so the counts are
    histc's exactly. A row with NaN/inf takes `_hist` (it bins only the finite values)."""
    rows = t.detach().flatten(1).double()
    k = rows.shape[0]
    lo, hi = torch.aminmax(rows, dim=1)
    finite = torch.isfinite(lo) & torch.isfinite(hi)  # aminmax propagates NaN, so this catches both
    flat = (hi - lo) < 1e-12
    lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)
    # in place, in histc's order of operations: (x - min) * bins / (max - min)
    pos = rows.sub(lo[:, None]).mul_(bins).div_((hi - lo)[:, None])
    ok = finite.tolist()
    if not all(ok):
        pos = torch.where(finite[:, None], pos, 0.0)  # rows with NaN/inf are redone below
    idx = pos.long().clamp_(0, bins - 1)
    idx += torch.arange(0, k * bins, bins, device=rows.device).unsqueeze(1)  # row k counts into bins k*bins...
    counts = torch.bincount(idx.flatten(), minlength=k * bins).view(k, bins).tolist()
    los, his = torch.stack((lo, hi)).tolist()
    return [
        {"min": los[i], "max": his[i], "counts": counts[i], "nonfinite": 0} if ok[i] else _hist(rows[i], bins)
        for i in range(k)
    ]


class Probe(NamedTuple):
    """What `probe` measured on the probe batch. Per layer name:
    dead_fraction: share of a ReLU layer's units whose output is <= 0 for every probe sample;
    saturated_fraction: share of a sigmoid/tanh layer's (sample, unit) outputs on a flat tail. Both
    are finite shares in [0, 1] even for NaN outputs, which count as neither dead nor saturated.
    active_fraction: share of a sigmoid/tanh layer's (sample, unit) pre-activations (after batch norm,
    before the activation) inside the range where the derivative is far from zero: |z| <= 2.5 for
    sigmoid, |z| <= 1.25 for tanh (tanh(z) = 2*sigmoid(2z) - 1); NaN counts as outside.
    histograms: per weight layer, histograms (`_hist`) of its pre-activations, activations, weights
    and gradients (of the epoch's last step); None when no bins were asked for.
    output: the model's output on the probe batch, (samples, outputs)."""

    dead_fraction: dict[str, float]
    saturated_fraction: dict[str, float]
    active_fraction: dict[str, float]
    histograms: dict[str, dict] | None
    output: torch.Tensor


@torch.no_grad()
def probe(model: Net, x: torch.Tensor, bins: int | None) -> Probe:
    """One pass over the probe batch `x` with `bins` histogram bins (None or 0: no histograms); the
    caller puts the model in evaluation mode. See `Probe` for what comes back."""
    captured: dict[str, dict[str, torch.Tensor]] = {}
    handles = []
    for name, block in model.blocks.items():
        captured[name] = {}
        handles.append(
            block.pre_module.register_forward_hook(lambda m, i, o, n=name: captured[n].__setitem__("pre", o))
        )
        handles.append(block.act.register_forward_hook(lambda m, i, o, n=name: captured[n].__setitem__("act", o)))
    captured["out"] = {}
    handles.append(model.out.register_forward_hook(lambda m, i, o: captured["out"].__setitem__("pre", o)))
    try:
        output = model(x)
    finally:
        for h in handles:
            h.remove()

    dead, saturated, active = {}, {}, {}
    for name, block in model.blocks.items():
        act = _unit_view(captured[name]["act"])
        kind = block.activation_name
        if kind == "relu":
            dead[name] = (act <= 0).all(0).float().mean().item()
        if kind in SATURATION:
            lo, hi = SATURATION[kind]
            # share of (sample, unit) outputs on a flat tail, where the derivative is nearly zero
            saturated[name] = ((act <= lo) | (act >= hi)).float().mean().item()
            active[name] = (captured[name]["pre"].abs() <= ACTIVE_RANGE[kind]).float().mean().item()

    hists = None
    if bins:
        hists = {}
        layers = model.weight_layers()
        for name, layer in layers.items():
            h = {"pre": _hist(captured[name]["pre"], bins), "weight": _hist(layer.weight, bins)}
            if "act" in captured[name]:
                h["act"] = _hist(captured[name]["act"], bins)
            if layer.weight.grad is not None:
                h["grad"] = _hist(layer.weight.grad, bins)
            hists[name] = h
    return Probe(dead, saturated, active, hists, output)


NETWORK_MAX_UNITS = 16  # units per layer the diagram draws; the rest show as "+N more"
UNIT_RESOLUTION = 16  # thumbnail cells per side over the plane (2-D data)
UNIT_POINTS = 50  # thumbnail points over x (1-D regression)


def network_eligible(model: Net) -> bool:
    """The diagram draws fully connected networks of any width (a sample of each wide layer's units)."""
    return not model.n_conv


@torch.no_grad()
def network_view(
    model: Net, units: dict[str, torch.Tensor] | None = None, resolution: int = 0, kind: str = "grid"
) -> dict:
    """The network diagram's data: weights and biases of every layer, and each unit's response over the
    input (the unit thumbnails) when the input can be drawn. Each layer sends its first
    NETWORK_MAX_UNITS units only (the diagram's sample of a wide layer: their weights among themselves,
    so the cost is bounded whatever the width); `widths` holds each layer's full width.

    `units` maps a layer name ("fc1"…, and "out") to its outputs over the input grid, (points, units),
    captured during the output view's pass. `kind` says what the points are: "grid", resolution ×
    resolution cells over the plane, row-major (2-D data; "out" holds class probabilities in [0, 1], or the
    fitted value for regression on the plane),
    or "curve", `resolution` evenly spaced x values (1-D regression; "out" is the fitted curve)."""
    k = NETWORK_MAX_UNITS
    layers = model.weight_layers()
    rounded = round_lists([m.weight[:k, :k] for m in layers.values()] + [m.bias[:k] for m in layers.values()], 4)
    view = {
        "weights": dict(zip(layers, rounded[: len(layers)], strict=True)),
        "biases": dict(zip(layers, rounded[len(layers) :], strict=True)),
        "widths": {n: m.weight.shape[0] for n, m in layers.items()},
    }
    if units:
        view["unit_kind"] = kind
        view["unit_resolution"] = resolution
        # (units, points) per layer
        view["units"] = dict(zip(units, round_lists([a[:, :k].T for a in units.values()], 2), strict=True))
    return view


def grid(bounds: list[list[float]], resolution: int) -> torch.Tensor:
    """Raw-coordinate grid over a 2-D bounding box, row-major with y rising from the first row."""
    xs = torch.linspace(bounds[0][0], bounds[0][1], resolution)
    ys = torch.linspace(bounds[1][0], bounds[1][1], resolution)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def round_list(t: torch.Tensor, digits: int = 4) -> list:
    """`t` as (nested) lists of floats rounded to `digits` decimals, NaN/inf as None (JSON's null)."""
    # in float64, so that 0.1234 prints as 0.1234 in JSON and not as 0.12340000271797180
    t = torch.round(t.detach().cpu().double(), decimals=digits)
    if math.isfinite(t.sum().item()):  # NaN/inf propagate to the sum (one cheap reduction)
        return t.tolist()
    finite = torch.isfinite(t)
    values = t.numpy().astype(object)
    values[~finite.numpy()] = None
    return values.tolist()


def round_lists(tensors: list[torch.Tensor], digits: int = 4) -> list[list]:
    """`round_list` of each of `tensors` (of up to 2 dimensions), as one rounding and one transfer:
    for the network view's many small tensors the per-call overhead costs more than the work."""
    if not tensors or any(t.dim() > 2 for t in tensors):
        return [round_list(t, digits) for t in tensors]
    flat = torch.round(torch.cat([t.detach().reshape(-1) for t in tensors]).cpu().double(), decimals=digits)
    if not math.isfinite(flat.sum().item()):  # NaN/inf: round_list maps them to None tensor by tensor
        return [round_list(t, digits) for t in tensors]
    values, out, at = flat.tolist(), [], 0
    for t in tensors:
        chunk, at = values[at : at + t.numel()], at + t.numel()
        if t.dim() == 2:
            cols = t.shape[1]
            chunk = [chunk[i : i + cols] for i in range(0, len(chunk), cols)] if cols else [[] for _ in range(len(t))]
        elif t.dim() == 0:
            chunk = chunk[0]
        out.append(chunk)
    return out
