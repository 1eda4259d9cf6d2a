"""A sweep's telemetry: the stacked variants measured at once, each handed the `Measured` its own
Trainer would have taken (engine/trainer.py), to float rounding.

A single run's every-epoch telemetry (the probe pass, histograms, the 64x64 decision surface with the
network view's unit thumbnails, the norms, the checkpoint) is some hundred small tensor operations and
conversions to Python lists. Done per variant it cost a sweep three times its stacked training, so here
each of them runs once over the (K, ...) stacked weights: one batched forward pass over the probe batch,
the training and validation splits and the surface's grid; per-variant norms, fractions and penalties as
reductions over all but the variant axis; histograms binned for all variants together
(`telemetry.stacked_histograms`); every list of numbers rounded and converted in one call, then cut
per variant. The numbers differ from the single run's only by the order of float32 sums (a batched
product against a plain one); histogram counts and rounded surface values can differ only where a
value lies within that rounding of a bin edge or a rounding boundary.

Variants the batched view does not cover take their own Trainer's measurement: MC-dropout views
(random passes), output views other than the plane's (curves, images, confusion matrices), and a
variant whose numbers hold NaN/inf (its lists need the single run's null handling)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import events, telemetry
from .telemetry import finite_or_none as _finite
from .trainer import Measured, Trainer


def forward(params: list[torch.Tensor], acts: list[Callable], x: torch.Tensor) -> tuple[list, list, torch.Tensor]:
    """Every variant's pass over the shared batch `x` (B, in): (pre-activations, activations, outputs),
    hidden layers' (K, B, units) and the outputs (K, B, n_out)."""
    k = params[0].shape[0]
    h = x.expand(k, *x.shape)
    pres, outs = [], []
    for i, act in enumerate(acts):
        pres.append(torch.baddbmm(params[2 * i + 1].unsqueeze(1), h, params[2 * i].transpose(1, 2)))
        h = act(pres[-1])
        outs.append(h)
    return pres, outs, torch.baddbmm(params[-1].unsqueeze(1), h, params[-2].transpose(1, 2))


def _grid_pass(
    params: list[torch.Tensor], acts: list[Callable], x: torch.Tensor, res: int, step: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Every variant's pass over the res x res grid `x` (points, in), feature-major as `outputs.grid_pass`
    (W @ x.T, the faster BLAS shape for many points): (the outputs (K, n_out, points), each layer's
    thumbnail, its outputs at every step-th cell of the grid (K, units, cells), the output layer's last).
    Variant by variant, as grid_pass computes it: for these shapes a batched baddbmm measured 4-5x slower
    on one CPU thread than K plain addmm (whose per-call overhead is small beside the 4096-point
    products), and the numbers are then the run alone's to the bit. Only the thumbnails are stacked."""

    # the thumbnail's cells as flat grid indices, row-major: one index_select a layer, not a view, a
    # strided slice and a copy
    ticks = torch.arange(0, res, step, device=x.device)
    cells = (ticks.unsqueeze(1) * res + ticks).flatten()
    logits, thumbs = [], []
    for k in range(params[0].shape[0]):
        h, ts = x.T, []
        for i, act in enumerate(acts):
            h = act(torch.addmm(params[2 * i + 1][k].unsqueeze(1), params[2 * i][k], h))
            ts.append(h.index_select(1, cells))
        logits.append(torch.addmm(params[-1][k].unsqueeze(1), params[-2][k], h))
        thumbs.append([*ts, logits[-1].index_select(1, cells)])
    return torch.stack(logits), [torch.stack(layer) for layer in zip(*thumbs, strict=True)]


def _evaluate(out: torch.Tensor, y: torch.Tensor, regression: bool) -> list[tuple[float, float]]:
    """Per variant, what Trainer._evaluate returns for its outputs `out[k]` (K, B, n_out): (loss,
    accuracy or R^2), both NaN when the loss is not finite."""
    k = out.shape[0]
    # the loss variant by variant, by the run's own call: a batched mean sums in another order, and the
    # last bit decides ties between epochs (the best epoch) where the outputs are equal
    if regression:
        losses = [F.mse_loss(o.squeeze(-1), y).item() for o in out]
        var = torch.var(y, unbiased=False).item()
        sq_mean = (out.squeeze(-1) - y).square().mean(1)
        scores = (1.0 - sq_mean / var).tolist() if var else [math.nan] * k
    else:
        losses = [F.cross_entropy(o, y).item() for o in out]
        scores = (out.argmax(-1) == y).float().mean(1).tolist()
    return [(lo, sc if math.isfinite(lo) else math.nan) for lo, sc in zip(losses, scores, strict=True)]


def _per_layer(names: list[str], values: list[torch.Tensor]) -> list[dict[str, float | None]]:
    """[(K,) tensor per layer] -> per variant {layer: value or None}."""
    rows = torch.stack(values, 1).tolist()  # (K, layers)
    return [dict(zip(names, map(_finite, row), strict=True)) for row in rows]


def _norms(ts: list[torch.Tensor], p: int = 2) -> list[torch.Tensor]:
    """Per tensor (K, ...), each variant's L`p` norm (K,)."""
    return [torch.linalg.vector_norm(t.flatten(1), p, dim=1) for t in ts]


def _rounded(parts: list[torch.Tensor], digits: int) -> tuple[list[list], list[bool]]:
    """Each variant's `parts` ((K, ...) tensors) rounded to `digits` decimals as nested lists:
    [[part 0's list, part 1's list, ...] per variant], as `telemetry.round_lists` makes them, and per
    variant whether all its numbers are finite (the caller sends a variant with NaN/inf its own way: its
    lists hold nulls there). One rounding for all variants and parts (float64, as round_list), then one
    conversion per part: tolist builds the nested lists in C."""
    k = parts[0].shape[0]
    flat = torch.round(torch.cat([p.detach().reshape(k, -1) for p in parts], 1).cpu().double(), decimals=digits)
    finite = torch.isfinite(flat).all(1).tolist()  # rounding keeps NaN and inf as they are
    lists, at = [], 0
    for p in parts:
        n = math.prod(p.shape[1:])
        lists.append(flat[:, at : at + n].reshape(p.shape).numpy().tolist())  # numpy's: ~25% faster than torch's
        at += n
    return [list(v) for v in zip(*lists, strict=True)], finite


class GroupTelemetry:
    """Measures a stacked group's variants after an epoch. `names`: the weight layers ("fc1", ...,
    "out"); `kinds`: each hidden layer's activation name; `state_names`: the state dict's keys in
    parameter order (None when the state dict holds more than the parameters: each variant then
    snapshots its own model)."""

    def __init__(self, trainer: Trainer, acts: list[Callable]):
        model = trainer.model
        self.names = list(model.weight_layers())
        self.kinds = [b.activation_name for b in model.blocks.values()]
        self.acts = acts
        names = [n for n, _ in model.named_parameters()]
        self.state_names = names if list(model.state_dict()) == names else None

    def measure(
        self,
        trainers: list[Trainer],
        params: list[torch.Tensor],
        epoch: int,
        w_before: list[torch.Tensor] | None,
        grads: list[torch.Tensor] | None,
    ) -> list[Measured]:
        """Each of `trainers`' Measured after `epoch`; variant k's weights are `params[i][k]`, its
        weights at the epoch's start `w_before[l][k]` (per layer), the gradients of its epoch's last step
        `grads[i][k]`. The variants share their telemetry configuration (`Sweep` groups them so)."""
        t0 = trainers[0]
        params = [p.detach() for p in params]
        weights = params[0::2]
        tel, bins = t0.tel, None
        if tel.enabled and tel.histogram_every and epoch % tel.histogram_every == 0:
            bins = tel.bins
        pres = outs = probe_out = None
        if tel.enabled:
            pres, outs, probe_out = forward(params, self.acts, t0.x_probe)
        reuse = probe_out is not None and len(t0.x_probe) == len(t0.x_train)
        train_out = probe_out if reuse else forward(params, self.acts, t0.x_train)[2]
        train = _evaluate(train_out, t0.y_train, t0.regression)
        val = _evaluate(forward(params, self.acts, t0.x_val)[2], t0.y_val, t0.regression)
        pens = self._penalties(trainers, params)
        zero = self._zero_fractions(weights)
        layers = [None] * len(trainers)
        if tel.enabled:
            layers = self._layers(trainers, weights, w_before, pres, outs, epoch)
        hists = [None] * len(trainers)
        if bins:
            hists = self._histograms(weights, [*pres, probe_out], outs, grads, bins)
        surfaces = self._surfaces(trainers, params, epoch)
        states = self._states(params)
        return [
            Measured(train[i], val[i], pens[i], zero[i], layers[i], hists[i], surfaces[i], states[i])
            for i in range(len(trainers))
        ]

    # -- the record's numbers ---------------------------------------------------------------------
    @staticmethod
    def _penalties(trainers: list[Trainer], params: list[torch.Tensor]) -> list[tuple[float, float]]:
        """Per variant, `regularization.penalties` over its decayed parameters: (L2 part, L1 part)."""
        decayed_ids = {id(p) for p in trainers[0].decayed}
        net = [p for ps in trainers[0].model.layer_params().values() for p in ps]
        decayed = [s for s, p in zip(params, net, strict=True) if id(p) in decayed_ids]
        if not decayed:
            return [(0.0, 0.0)] * len(trainers)
        opts = [t.config.optimizer for t in trainers]
        l2_lam = torch.tensor([0.5 * o.weight_decay for o in opts], device=params[0].device)
        l1_lam = torch.tensor([o.l1 for o in opts], device=params[0].device)
        l2 = l2_lam * torch.stack(_norms(decayed)).square().sum(0)
        l1 = l1_lam * torch.stack(_norms(decayed, 1)).sum(0)
        # a lambda of 0 is no term at all (0, not 0 * inf), as in regularization.penalties
        l2, l1 = torch.where(l2_lam == 0, 0.0, l2), torch.where(l1_lam == 0, 0.0, l1)
        return list(zip(l2.tolist(), l1.tolist(), strict=True))

    def _zero_fractions(self, weights: list[torch.Tensor]) -> list[dict]:
        """Per variant, `telemetry.zero_fractions`: share of |w| < ZERO_WEIGHT, None for a non-finite layer."""
        fractions = [(w.abs() < telemetry.ZERO_WEIGHT).flatten(1).float().mean(1) for w in weights]
        finite = [torch.isfinite(w.flatten(1)).all(1) for w in weights]
        values = [torch.where(f, z, math.nan) for z, f in zip(fractions, finite, strict=True)]
        return _per_layer(self.names, values)

    def _layers(self, trainers, weights, w_before, pres, outs, epoch: int) -> list[dict]:
        """Per variant, the record's per-layer probe entries (`Measured.layers`)."""
        weight_norm = _per_layer(self.names, _norms(weights))
        if epoch and w_before is not None:
            num = _norms([w - b for w, b in zip(weights, w_before, strict=True)])
            den = [n.clamp_min(1e-12) for n in _norms(w_before)]
            update_ratio = _per_layer(self.names, [a / b for a, b in zip(num, den, strict=True)])
        else:
            update_ratio = [{} for _ in trainers]
        dead, saturated, active = self._activity(pres, outs, len(trainers))
        return [
            {
                "grad_norm": t.meter.means(),
                "weight_norm": weight_norm[i],
                "update_ratio": update_ratio[i],
                "dead_fraction": dead[i],
                "saturated_fraction": saturated[i],
                "active_fraction": active[i],
            }
            for i, t in enumerate(trainers)
        ]

    def _activity(self, pres, outs, k: int) -> tuple[list[dict], list[dict], list[dict]]:
        """Per variant, `telemetry.probe`'s dead, saturated and active fractions on the probe batch."""
        dead: dict[str, list] = {}
        saturated: dict[str, list] = {}
        active: dict[str, list] = {}
        for name, kind, pre, act in zip(self.names, self.kinds, pres, outs, strict=False):
            if kind == "relu":
                dead[name] = (act <= 0).all(1).float().mean(1).tolist()
            if kind in telemetry.SATURATION:
                lo, hi = telemetry.SATURATION[kind]
                saturated[name] = ((act <= lo) | (act >= hi)).flatten(1).float().mean(1).tolist()
                active[name] = (pre.abs() <= telemetry.ACTIVE_RANGE[kind]).flatten(1).float().mean(1).tolist()
        return tuple([{n: v[i] for n, v in d.items()} for i in range(k)] for d in (dead, saturated, active))

    def _histograms(self, weights, pres, outs, grads, bins: int) -> list[dict]:
        """Per variant, the `histograms` event's layers as `telemetry.probe` makes them."""
        per_layer = {}
        for li, name in enumerate(self.names):
            h = {"pre": pres[li], "weight": weights[li]}  # the output layer's "pre" is the probe's output
            if li < len(outs):
                h["act"] = outs[li]
            if grads is not None:
                h["grad"] = grads[2 * li]
            per_layer[name] = {key: telemetry.stacked_histograms(t, bins) for key, t in h.items()}
        k = weights[0].shape[0]
        return [{n: {key: hs[i] for key, hs in d.items()} for n, d in per_layer.items()} for i in range(k)]

    # -- the surface and the checkpoint -----------------------------------------------------------
    def _surfaces(self, trainers: list[Trainer], params: list[torch.Tensor], epoch: int) -> list[dict | None]:
        """Per variant, its output view's `surface` event (None when not due): the plane's views at once,
        the others by each variant's own output view."""
        t0 = trainers[0]
        if not t0.surface_due(epoch):
            return [None] * len(trainers)
        view = t0.output_view
        if not view.data.plane or view.mc > 1:
            return [self._own_surface(t, epoch) for t in trainers]
        bounds, res, x = view.plane_grid()
        # the network view's thumbnails: every step-th grid cell of each unit's output, (K, units, cells)
        step = max(1, res // telemetry.UNIT_RESOLUTION)
        logits, units = _grid_pass(params, self.acts, x, res, step)  # logits (K, n_out, points)
        extra_parts = []
        if view.regression:
            values = logits[:, 0]
        elif view.data.n_classes == 2:  # softmax of two logits, done as one sigmoid (as OutputView)
            values = torch.sigmoid(logits[:, 1] - logits[:, 0])
        else:
            conf, values = torch.softmax(logits, 1).max(1)
            extra_parts.append(conf)
        if not view.regression:
            units[-1] = torch.softmax(units[-1], 1)  # each output unit: its class's probability
        cap = telemetry.NETWORK_MAX_UNITS
        units = [u[:, :cap] for u in units]
        links = [params[2 * i][:, :cap, :cap] for i in range(len(self.names))]
        links += [params[2 * i + 1][:, :cap] for i in range(len(self.names))]
        three, ok3 = _rounded([values, *extra_parts], 3)
        two, ok2 = _rounded(units, 2)
        four, ok4 = _rounded(links, 4)
        ok = [a and b and c for a, b, c in zip(ok3, ok2, ok4, strict=True)]
        widths = {n: params[2 * i].shape[1] for i, n in enumerate(self.names)}
        kind = "regression2d" if view.regression else "decision"
        n_layers = len(self.names)
        out = []
        for i, t in enumerate(trainers):
            if not ok[i]:  # NaN/inf: the single run's lists hold nulls there
                out.append(self._own_surface(t, epoch))
                continue
            extra = {"confidence": three[i][1]} if extra_parts else {}
            extra["network"] = {
                "weights": dict(zip(self.names, four[i][:n_layers], strict=True)),
                "biases": dict(zip(self.names, four[i][n_layers:], strict=True)),
                "widths": widths,
                "unit_kind": "grid",
                "unit_resolution": len(range(0, res, step)),
                "units": dict(zip(self.names, two[i], strict=True)),
            }
            out.append(events.surface(epoch, kind, bounds=bounds, resolution=res, values=three[i][0], **extra))
        return out

    @staticmethod
    def _own_surface(t: Trainer, epoch: int) -> dict | None:
        t.model.eval()
        return t.output_surface(epoch)

    def _states(self, params: list[torch.Tensor]) -> list[dict | None]:
        """Per variant, its checkpoint: one CPU copy of each stacked parameter, and each variant's state
        dict holds views of its rows (a checkpoint never changes, so the variants may share the copy)."""
        k = params[0].shape[0]
        if self.state_names is None:
            return [None] * k
        copies = [p.to("cpu", copy=True).unbind(0) for p in params]
        return [dict(zip(self.state_names, (c[i] for c in copies), strict=True)) for i in range(k)]
