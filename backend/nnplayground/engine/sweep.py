"""Sweeps: K variants of one run configuration trained at once as one stacked model.

    variants = expand(base, {"optimizer.lr": [0.01, 0.1, 1.0]}, "grid")   # [(values, RunConfig), ...]
    sweep = Sweep([cfg for _, cfg in variants])
    for k, events in sweep.start().items(): ...   # k: the variant's index
    while not sweep.done:
        for k, events in sweep.step().items(): ...  # one epoch of every variant still training

Each variant is an ordinary `Trainer` (its own data, initial weights, random streams, schedule, early
stopping, checkpoints and telemetry events): only its training batches are run by the sweep. Variants
whose configurations differ only in per-variant hyperparameters (`PER_VARIANT`) form a group; a group's
weights are stacked along a leading variant axis (a (K, out, in) tensor per layer), and each variant's
`Trainer.model` holds views into that stack, so its telemetry, checkpoints and predictions see the
weights the stack trains. One forward/backward of batched matrix products (torch.baddbmm; the backward
pass written out, not recorded by autograd) and one optimizer update over stacked state serve the whole
group; the hyperparameters are (K, 1, 1) tensors.
A variant that ends (completed, early stopped, diverged, stopped) leaves the stack: its weights are
copied out and no longer change, and the others go on.

Small models are dominated by per-operation overhead, which the stack pays once for K variants.
Batched matrix products measured faster than torch.func (vmap over functional_call) on this machine;
see benchmarks/bench_sweep.py.

Groups the stack cannot hold (batch normalization, convolutional networks, transfer) train their
variants one after another, each by its own Trainer: the same results, without the speed-up.

Equivalence: without dropout, each variant trains the same model as `Trainer(config)` alone (the same
seed gives the same initial weights and batch order; the update rules are written as torch.optim
writes them), to float rounding. With dropout the masks come from one generator per group seeded from
the variants' seeds, so a variant with dropout is not bitwise the run trained alone."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from pydantic import ValidationError

from . import augmentation
from .choices import ACTIVATIONS, OPTIMIZERS
from .config import ConfigError, RunConfig, error_kind, error_location
from .sweep_telemetry import GroupTelemetry
from .trainer import Trainer

MODES = ("grid", "zip")

# Fields a variant may change without leaving its group: they become per-variant tensors or live in
# the variant's own Trainer (schedule, early stopping, telemetry, epochs).
PER_VARIANT = {
    "optimizer": ("lr", "momentum", "betas", "rho", "eps", "weight_decay"),
    "model": ("dropout", "dropouts"),
    "init": None,  # the whole section: initial weights are drawn per variant
    "training": ("seed", "epochs"),
    "schedule": None,
    "early_stopping": None,
    "telemetry": None,
    "augmentation": None,
    "lesson": None,
}

NADAM_MOMENTUM_DECAY = 4e-3  # torch.optim.NAdam's default, which the engine uses

# d act(z)/dz of each activation, from the pre-activation z, the activation a = act(z) and leaky_relu's
# slope: the formulas of autograd's own backward functions (sigmoid_backward, tanh_backward,
# threshold_backward, leaky_relu_backward); None for the identity (nothing to multiply). An activation
# missing here is trained through autograd instead (_Stack.gradients).
ACTIVATION_GRADS = {
    "sigmoid": lambda z, a, slope: a * (1 - a),
    "tanh": lambda z, a, slope: 1 - a * a,
    "relu": lambda z, a, slope: a > 0,
    "leaky_relu": lambda z, a, slope: torch.where(z > 0, 1.0, slope),
    "linear": lambda z, a, slope: None,
}


# ---- variants ------------------------------------------------------------------------------------


def _known_path(path: str) -> None:
    """Raise ConfigError(path) unless `path` names a field of RunConfig (a section's field or a
    top-level field such as `lesson`)."""
    model, parts = RunConfig, path.split(".")
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            raise ConfigError(
                path,
                f"unknown field {'.'.join(parts[: i + 1])!r}",
                "unknown_field",
                {"path": ".".join(parts[: i + 1])},
            )
        ann = fields[part].annotation
        model = next((a for a in getattr(ann, "__args__", ()) if hasattr(a, "model_fields")), ann)
    if hasattr(model, "model_fields"):
        raise ConfigError(path, "names a whole section; vary one of its fields", "whole_section")


def _set(cfg: dict, path: str, value) -> None:
    *head, last = path.split(".")
    for part in head:
        if cfg.get(part) is None:  # an optional section that is off (transfer: null)
            cfg[part] = {}
        cfg = cfg[part]
    cfg[last] = value


def expand(base: dict | RunConfig, vary: dict[str, list], mode: str = "grid", limit: int | None = None) -> list:
    """The sweep's variants: [(values, RunConfig)], `values` mapping each axis path to the variant's value.

    `vary` maps dotted config paths ("optimizer.lr") to lists of values. `mode` "grid" takes every
    combination (the first axis varies slowest); "zip" takes the i-th value of every axis (all lists of one
    length). Raises ConfigError (field: "vary.<path>", "mode", "base.<path>" or "vary") for an unknown
    path, an empty or mismatched list, a value the run configuration rejects, or more than `limit` variants."""
    if mode not in MODES:
        raise ConfigError(
            "mode", f"must be one of {', '.join(MODES)}, got {mode!r}", "sweep_mode", {"expected": ", ".join(MODES)}
        )
    base_cfg = base if isinstance(base, RunConfig) else _validated(base, "base")
    _check_axes(vary)
    paths = list(vary)
    return [_variant(base_cfg, paths, combo) for combo in _combinations(vary, mode, limit)]


def _check_axes(vary: dict[str, list]) -> None:
    """At least one axis, each a known config path with a non-empty list of values."""
    if not vary:
        raise ConfigError("vary", "name at least one field to vary", "vary_empty")
    for path, values in vary.items():
        try:
            _known_path(path)
        except ConfigError as e:
            raise ConfigError(f"vary.{path}", e.message, e.code, e.ctx) from None
        if not isinstance(values, list) or not values:
            raise ConfigError(f"vary.{path}", "needs a non-empty list of values", "vary_values")


def _combinations(vary: dict[str, list], mode: str, limit: int | None) -> list[tuple]:
    """The value tuples of the variants, one value per axis in `vary`'s order ("grid" or "zip", as `expand`)."""
    if mode == "zip":
        lengths = {len(v) for v in vary.values()}
        if len(lengths) > 1:
            raise ConfigError(
                "vary",
                f"zip mode needs lists of one length, got lengths {sorted(lengths)}",
                "zip_lengths",
                {"lengths": ", ".join(map(str, sorted(lengths)))},
            )
        combos = list(zip(*vary.values(), strict=True))
    else:
        n = math.prod(len(v) for v in vary.values())
        if limit is not None and n > limit:
            raise ConfigError(
                "vary", f"{n} variants; at most {limit} are allowed", "too_many_variants", {"n": n, "max": limit}
            )
        combos = list(itertools.product(*vary.values()))
    if limit is not None and len(combos) > limit:
        raise ConfigError(
            "vary",
            f"{len(combos)} variants; at most {limit} are allowed",
            "too_many_variants",
            {"n": len(combos), "max": limit},
        )
    return combos


def _variant(base_cfg: RunConfig, paths: list[str], combo: tuple) -> tuple[dict, RunConfig]:
    """(values, RunConfig) of the variant that sets each of `paths` to its value in `combo`; a value the
    configuration rejects is a ConfigError on its axis ("vary.<path>"), or on "base.<path>"."""
    cfg = base_cfg.model_dump(mode="json")
    for path, value in zip(paths, combo, strict=True):
        _set(cfg, path, value)
    values = dict(zip(paths, combo, strict=True))
    try:
        return values, RunConfig.model_validate(cfg)
    except ValidationError as e:
        loc, msg = error_location(e.errors()[0])
        where = ".".join(str(p) for p in loc)
        axis = next((p for p in paths if where == p or where.startswith(p + ".")), None)
        code, ctx = error_kind(e.errors()[0])
        raise ConfigError(f"vary.{axis}" if axis else f"base.{where}", f"{values}: {msg}", code, ctx) from None


def _validated(cfg: dict, prefix: str) -> RunConfig:
    try:
        return RunConfig.model_validate(cfg)
    except ValidationError as e:
        loc, msg = error_location(e.errors()[0])
        code, ctx = error_kind(e.errors()[0])
        raise ConfigError(".".join([prefix, *map(str, loc)]), msg, code, ctx) from None


def group_key(cfg: RunConfig) -> str:
    """Variants with equal keys share architecture, data, batch size and update rule: one stacked model."""
    d = cfg.model_dump(mode="json")
    for section, fields in PER_VARIANT.items():
        if fields is None:
            d.pop(section, None)
        else:
            for f in fields:
                d[section].pop(f, None)
    return repr(sorted(d.items()))


def stackable(cfg: RunConfig) -> bool:
    """Whether the stacked model can train this configuration (fully connected, no batch norm, no transfer)."""
    return not cfg.uses_cnn() and not cfg.model.batch_norm and cfg.transfer is None


# ---- the stacked group --------------------------------------------------------------------------


class _Stack:
    """The weights, optimizer state and hyperparameters of the group's active variants, stacked on dim 0.
    Parameter order: fc1.weight, fc1.bias, ..., out.weight, out.bias (weights (K, out, in), biases (K, out))."""

    def __init__(self, trainers: list[Trainer]):
        self.trainers = trainers
        cfg = trainers[0].config
        self.opt_name = cfg.optimizer.name
        self.decoupled = OPTIMIZERS[self.opt_name].decoupled_decay
        self.l1 = cfg.optimizer.l1
        model = trainers[0].model
        # the modules' forward methods: the same functions without nn.Module's call machinery (~5 us
        # each, paid per layer and step)
        names = [b.activation_name for b in model.blocks.values()]
        self.acts = [ACTIVATIONS[n].build(cfg.model).forward for n in names]
        # the explicit backward pass (gradients()) when every activation's derivative is known
        self.act_grads = [ACTIVATION_GRADS[n] for n in names] if all(n in ACTIVATION_GRADS for n in names) else None
        self.leaky_slope = cfg.model.leaky_slope
        self.n_layers = len(self.acts) + 1
        self.regression = trainers[0].regression
        self.params = [
            torch.stack([p.detach() for p in ps]).requires_grad_(True)
            for ps in zip(*(self._net_params(t) for t in trainers), strict=True)
        ]
        decayed = {id(p) for p in trainers[0].decayed}
        self.decay_mask = [id(p) in decayed for p in self._net_params(trainers[0])]
        self.state: dict[str, list[torch.Tensor]] = {}
        self.step_count = 0
        self._hypers: tuple | None = None  # (key, tensors): see hypers()
        for t in trainers:
            # The variants' own torch optimizers only carry their schedules' learning rates (the stack does
            # the steps): tell lr_scheduler that steps were taken, as it checks to warn about a misuse.
            t.optimizer._opt_called = True
        self._bind()
        self.telemetry = GroupTelemetry(trainers[0], self.acts)
        seed = sum(t.config.training.seed * 1_000_003**i for i, t in enumerate(trainers)) % (2**63)
        self.drop_gen = torch.Generator(device=self.params[0].device).manual_seed(seed)

    @staticmethod
    def _net_params(trainer: Trainer) -> list[torch.nn.Parameter]:
        return [p for ps in trainer.model.layer_params().values() for p in ps]

    def _bind(self) -> None:
        """Make each variant's model parameters views into the stack (one storage, no copies)."""
        for k, t in enumerate(self.trainers):
            for p, s in zip(self._net_params(t), self.params, strict=True):
                p.data = s.detach()[k]

    def drop(self, keep: list[int]) -> None:
        """Keep only variants `keep` (indices into the current stack); the others' weights are copied out."""
        gone = [t for k, t in enumerate(self.trainers) if k not in keep]
        for t in gone:
            for p in self._net_params(t):
                p.data = p.data.clone()
        idx = torch.tensor(keep, dtype=torch.long, device=self.params[0].device)
        self.params = [p.detach().index_select(0, idx).requires_grad_(True) for p in self.params]
        self.state = {name: [s.index_select(0, idx) for s in ss] for name, ss in self.state.items()}
        self.trainers = [self.trainers[k] for k in keep]
        self._bind()

    # -- hyperparameters as tensors, (K, 1, ...) per parameter ------------------------------------
    def _hyper(self, values: Iterable[float]) -> list[torch.Tensor]:
        v = torch.tensor(list(values), dtype=self.params[0].dtype, device=self.params[0].device)
        return [v.view(-1, *([1] * (p.dim() - 1))) for p in self.params]

    def hypers(self) -> dict[str, list[torch.Tensor]]:
        """This epoch's per-variant hyperparameters (the learning rate follows each variant's schedule).
        Only the learning rates change between epochs, and often not at all: the tensors are rebuilt
        when they or the variants do."""
        lrs = [t.schedule.lr for t in self.trainers]
        key = (tuple(map(id, self.trainers)), tuple(lrs))
        if self._hypers is None or self._hypers[0] != key:
            self._hypers = (key, self._make_hypers(lrs))
        return self._hypers[1]

    def _make_hypers(self, lrs: list[float]) -> dict[str, list[torch.Tensor]]:
        opts = [t.config.optimizer for t in self.trainers]
        h = {
            "lr": self._hyper(lrs),
            "neg_lr": self._hyper(-lr for lr in lrs),
            "one_minus_momentum": self._hyper(1 - o.momentum for o in opts),
            "wd": self._hyper(o.weight_decay for o in opts),
            "momentum": self._hyper(o.momentum for o in opts),
            "beta1": self._hyper(o.betas[0] for o in opts),
            "beta2": self._hyper(o.betas[1] for o in opts),
            "rho": self._hyper(o.rho for o in opts),
            "eps": self._hyper(o.eps for o in opts),
        }
        cfgs = [t.config.model for t in self.trainers]
        h["dropout"] = [
            torch.tensor([c.layer_dropout(i) for c in cfgs], device=self.params[0].device).view(-1, 1, 1)
            for i in range(self.n_layers - 1)
        ]
        h["any_dropout"] = any(c.layer_dropout(i) > 0 for c in cfgs for i in range(self.n_layers - 1))
        h["any_decay"] = any(o.weight_decay > 0 for o in opts)
        h["raw"] = {
            "beta1": [o.betas[0] for o in opts],
            "beta2": [o.betas[1] for o in opts],
        }
        return h

    # -- forward, loss ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, h: dict | None = None, train: bool = False) -> torch.Tensor:
        """x: (K, B, in) -> outputs (K, B, n_out)."""
        ps = self.params
        for i, act in enumerate(self.acts):
            x = act(torch.baddbmm(ps[2 * i + 1].unsqueeze(1), x, ps[2 * i].transpose(1, 2)))
            if train and h is not None and h["any_dropout"]:
                x = self.dropout(x, h["dropout"][i])
        return torch.baddbmm(ps[-1].unsqueeze(1), x, ps[-2].transpose(1, 2))

    def dropout(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Inverted dropout with per-variant rates `p` (K, 1, 1): each unit of variant k is zeroed with
        probability p[k] and the kept ones scaled by 1/(1 - p[k]); a variant with p = 0 is left as it is."""
        return x * self.dropout_scale(x, p)

    def dropout_scale(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """The factor `dropout` multiplies x (K, B, units) by: 0 for a dropped unit, 1/(1 - p[k]) for a kept one."""
        keep = torch.rand(x.shape, generator=self.drop_gen, device=x.device) >= p
        return keep / (1 - p)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The sum over variants of each variant's mean batch loss: its gradient is each variant's own."""
        k, b = y.shape
        if self.regression:
            return F.mse_loss(out.squeeze(-1), y, reduction="sum") / b
        return F.cross_entropy(out.reshape(k * b, -1), y.reshape(-1), reduction="sum") / b

    def gradients(self, x: torch.Tensor, y: torch.Tensor, h: dict, train: bool = True) -> list[torch.Tensor]:
        """Each variant's gradient of its mean loss on its batch (x: (K, B, in), y: (K, B)), one tensor per
        parameter as `self.params`: the data loss's only (`with_penalty` adds the penalties'), with dropout
        masks drawn when `train`. Written out as the backward pass of an MLP (the chain rule through the
        batched products), which costs less than half of autograd's recording and replay at these sizes
        (benchmarks/bench_sweep.py); the same gradients to float rounding (tests/engine/test_sweep.py)."""
        if self.act_grads is None:
            return list(torch.autograd.grad(self.loss(self.forward(x, h, train), y), self.params))
        with torch.no_grad():
            ps = self.params
            inputs, derivs = [x], []  # each layer's input; d a/d z of each hidden layer (dropout's scale in it)
            for i, act in enumerate(self.acts):
                z = torch.baddbmm(ps[2 * i + 1].unsqueeze(1), inputs[-1], ps[2 * i].transpose(1, 2))
                a = act(z)
                d = self.act_grads[i](z, a, self.leaky_slope)
                if train and h["any_dropout"]:
                    scale = self.dropout_scale(a, h["dropout"][i])
                    a = a * scale
                    d = scale if d is None else d * scale
                inputs.append(a)
                derivs.append(d)
            out = torch.baddbmm(ps[-1].unsqueeze(1), inputs[-1], ps[-2].transpose(1, 2))
            delta = self._output_delta(out, y)  # d loss / d out, (K, B, n_out)
            grads: list[torch.Tensor] = [delta] * len(ps)
            for i in range(len(self.acts), -1, -1):
                grads[2 * i] = torch.bmm(delta.transpose(1, 2), inputs[i])
                grads[2 * i + 1] = delta.sum(1)
                if i:
                    delta = torch.bmm(delta, ps[2 * i])
                    if derivs[i - 1] is not None:
                        delta = delta * derivs[i - 1]
            return grads

    def _output_delta(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """d loss/d out of `loss` (each variant's mean over its B samples): 2·(out − y)/B for the squared error,
        (softmax(out) − onehot(y))/B for the cross-entropy."""
        b = y.shape[1]
        if self.regression:
            return (out - y.unsqueeze(-1)) * (2 / b)
        delta = torch.softmax(out, -1)
        delta.scatter_add_(-1, y.unsqueeze(-1), out.new_full((*y.shape, 1), -1.0))
        return delta.div_(b)

    def shared_probe(self) -> bool:
        """Whether `probe_grads` gives each variant what its run alone measures at epoch 0: one probe batch
        for all, and no dropout (a run alone draws its masks there, which a stack cannot draw the same)."""
        cfgs = [t.config for t in self.trainers]
        sizes = {c.telemetry.probe_size for c in cfgs}
        return len(sizes) == 1 and not any(c.model.dropout or c.model.dropouts for c in cfgs)

    def probe_grads(self) -> list[torch.Tensor]:
        """Every variant's gradient of its mean loss on its probe batch (no penalty, no update): what a run
        alone measures at epoch 0 (Trainer.start), here without dropout. Records each variant's gradient
        norms in its meter."""
        t0 = self.trainers[0]
        k = len(self.trainers)
        x, y = t0.x_probe.expand(k, *t0.x_probe.shape), t0.y_probe.expand(k, *t0.y_probe.shape)
        grads = list(torch.autograd.grad(self.loss(self.forward(x), y), self.params))
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], 1)
        for i, t in enumerate(self.trainers):
            if t.meter is not None:
                t.meter.reset()
                t.meter.record(norms[i])
        return grads

    # -- one optimizer step over the stack (torch.optim's formulas, per-variant hyperparameters) -----
    @torch.no_grad()
    def with_penalty(self, grads: list[torch.Tensor], h: dict) -> list[torch.Tensor]:
        """The data loss's gradients plus the penalties' as the Trainer's loss has them (its gradient norms
        include them): (1/2)*lambda*||w||^2's, lambda*w (AdamW decays in its step instead), and
        lambda1*||w||_1's, lambda1*sign(w) (with every optimizer; autograd's subgradient at 0 is 0 too)."""
        ps = self.params
        if h["any_decay"] and not self.decoupled:
            grads = [g + wd * p if d else g for g, p, wd, d in zip(grads, ps, h["wd"], self.decay_mask, strict=True)]
        if self.l1:  # lambda1 is the group's (optimizer.l1 is no per-variant field)
            grads = [g + self.l1 * p.sign() if d else g for g, p, d in zip(grads, ps, self.decay_mask, strict=True)]
        return grads

    @torch.no_grad()
    def update(self, grads: list[torch.Tensor], h: dict) -> None:
        """One step of every variant; `grads` as `with_penalty` returns them."""
        ps, name = self.params, self.opt_name
        lr = h["lr"]
        self.step_count += 1
        st = self.state
        # torch._foreach_* broadcast the (K, 1, ...) hyperparameters: one call for all parameters
        if name == "sgd":
            torch._foreach_addcmul_(ps, grads, h["neg_lr"])
        elif name in ("momentum", "nesterov"):
            vel = st.setdefault("velocity", [torch.zeros_like(p) for p in ps])
            torch._foreach_mul_(vel, h["momentum"])
            torch._foreach_addcmul_(vel, grads, h["one_minus_momentum"])
            step = vel
            if name == "nesterov":
                step = torch._foreach_mul(vel, h["momentum"])
                torch._foreach_addcmul_(step, grads, h["one_minus_momentum"])
            torch._foreach_addcmul_(ps, step, h["neg_lr"])
        elif name == "adagrad":
            acc = st.setdefault("sum", [torch.zeros_like(p) for p in ps])
            for p, g, s, a, e in zip(ps, grads, acc, lr, h["eps"], strict=True):
                s.addcmul_(g, g)
                p.sub_(a * g / (s.sqrt() + e))
        elif name == "rmsprop":
            sq = st.setdefault("square_avg", [torch.zeros_like(p) for p in ps])
            for p, g, s, a, r, e in zip(ps, grads, sq, lr, h["rho"], h["eps"], strict=True):
                s.mul_(r).add_((1 - r) * g * g)
                p.sub_(a * g / (s.sqrt() + e))
        elif name in ("adam", "adamw", "nadam"):
            self._update_adam(grads, h)
        else:
            raise ValueError(f"optimizer.name: {name!r} has no stacked update rule")

    def _update_adam(self, grads: list[torch.Tensor], h: dict) -> None:
        """One Adam, AdamW or NAdam step of every variant (torch.optim's update rules)."""
        ps, name = self.params, self.opt_name
        lr = h["lr"]
        t = self.step_count
        st = self.state
        m1 = st.setdefault("exp_avg", [torch.zeros_like(p) for p in ps])
        m2 = st.setdefault("exp_avg_sq", [torch.zeros_like(p) for p in ps])
        b1r = torch.tensor(h["raw"]["beta1"], dtype=torch.float64)
        b2r = torch.tensor(h["raw"]["beta2"], dtype=torch.float64)
        bc2 = (1 - b2r**t).to(ps[0])
        if name == "nadam":
            mu = b1r * (1 - 0.5 * 0.96 ** (t * NADAM_MOMENTUM_DECAY))
            mu_next = b1r * (1 - 0.5 * 0.96 ** ((t + 1) * NADAM_MOMENTUM_DECAY))
            prod = st.setdefault("mu_product", [torch.ones(len(b1r), dtype=torch.float64)])
            prod[0] = prod[0] * mu
            c_grad = (1 - mu) / (1 - prod[0])
            c_avg = mu_next / (1 - prod[0] * mu_next)
        else:
            bc1 = 1 - b1r**t
        for i, (p, g, a1, a2, a, b1, b2, e) in enumerate(
            zip(ps, grads, m1, m2, lr, h["beta1"], h["beta2"], h["eps"], strict=True)
        ):
            shape = (-1, *([1] * (p.dim() - 1)))
            if name == "adamw" and self.decay_mask[i]:
                p.mul_(1 - a * h["wd"][i])
            a1.lerp_(g, 1 - b1)
            a2.mul_(b2).add_((1 - b2) * g * g)
            if name == "nadam":
                denom = (a2 / bc2.view(shape)).sqrt() + e
                p.sub_(a * c_grad.to(p).view(shape) * g / denom)
                p.sub_(a * c_avg.to(p).view(shape) * a1 / denom)
            else:
                denom = a2.sqrt() / bc2.sqrt().view(shape) + e
                p.sub_((a / bc1.to(p).view(shape)) * a1 / denom)


# ---- the sweep ------------------------------------------------------------------------------------


class Sweep:
    """K run configurations trained together; `trainers[k]` is variant k's Trainer (its events, history,
    summary, checkpoints and predictions are the variant's). `start()` and `step()` return {k: events}
    for the variants that produced events; a variant that has ended produces none."""

    def __init__(self, configs: list[RunConfig | dict]):
        cfgs = [c if isinstance(c, RunConfig) else RunConfig.model_validate(c) for c in configs]
        if not cfgs:
            raise ValueError("vary: a sweep needs at least one variant")
        self.trainers = [Trainer(c) for c in cfgs]
        groups: dict[str, list[int]] = {}
        for k, c in enumerate(cfgs):
            key = group_key(c) if stackable(c) else f"solo:{k}"
            groups.setdefault(key, []).append(k)
        self.groups = list(groups.values())  # variant indices of each group
        self._stacks: list[_Stack | None] = []
        self._members: list[list[int]] = []  # the stacked variants of each group, in stack order
        for g in self.groups:
            self._stacks.append(_Stack([self.trainers[k] for k in g]) if len(g) > 1 else None)
            self._members.append(list(g))
        self.started = False

    @property
    def done(self) -> bool:
        return all(t.done for t in self.trainers)

    def start(self) -> dict[int, list[dict]]:
        """Every variant's run_start and epoch 0 (its initial weights)."""
        self.started = True
        out = {}
        for gi, stack in enumerate(self._stacks):
            members = self._members[gi]
            if stack is None or not stack.shared_probe():
                out.update({k: self.trainers[k].start() for k in members})
                continue
            grads = stack.probe_grads()
            measured = self._measure_stack(stack, stack.trainers, None, grads, epoch=0)
            out.update({k: self.trainers[k].start(m) for k, m in zip(members, measured, strict=True)})
        return dict(sorted(out.items()))

    def step(self) -> dict[int, list[dict]]:
        """One epoch of every variant still training."""
        if not self.started:
            return self.start()
        out: dict[int, list[dict]] = {}
        for gi, stack in enumerate(self._stacks):
            if stack is None:
                for k in self._members[gi]:
                    if not self.trainers[k].done:
                        out[k] = self.trainers[k].step()
            else:
                out.update(self._step_stack(gi, stack))
        return out

    def stop(self, k: int, reason: str = "stopped by the user") -> list[dict]:
        """End variant k now (at its last whole epoch); the others go on."""
        events = self.trainers[k].stop(reason)
        self._release_ended()
        return events

    def stop_all(self, reason: str = "stopped by the user") -> dict[int, list[dict]]:
        out = {k: t.stop(reason) for k, t in enumerate(self.trainers) if not t.done}
        self._release_ended()
        return out

    def _release_ended(self) -> None:
        for gi, stack in enumerate(self._stacks):
            if stack is None:
                continue
            members = self._members[gi]
            keep = [i for i, k in enumerate(members) if not self.trainers[k].done]
            if len(keep) < len(members):
                stack.drop(keep)
                self._members[gi] = [members[i] for i in keep]

    def _step_stack(self, gi: int, stack: _Stack) -> dict[int, list[dict]]:
        members = self._members[gi]
        if not members:
            return {}
        trainers = [self.trainers[k] for k in members]
        t_epoch = time.perf_counter()
        t0 = trainers[0]
        xs, perms, augmented = [], [], False
        # what Trainer._train_one_epoch does before its batches, per variant; the models stay in evaluation
        # mode (the stack trains, not the modules, and the measurement wants them so)
        for t in trainers:
            t.epoch += 1
            x = t.x_train
            if t.augment:
                x = augmentation.augment(x.cpu(), t.config.augmentation, t.gen).to(t.device)
                augmented = True
            xs.append(x)
            if t.meter is not None:
                t.meter.reset()
            perms.append(torch.randperm(len(t.y_train), generator=t.gen).to(t.device))
        meters = [(k, t.meter) for k, t in enumerate(trainers) if t.meter is not None]
        # the update ratio compares the epoch's end with these weights
        w_before = [w.detach().clone() for w in stack.params[0::2]] if meters else None
        perm = torch.stack(perms)  # (K, N)
        x_all = torch.stack(xs) if augmented else t0.x_train
        rows = torch.arange(len(trainers), device=perm.device).unsqueeze(1)
        y_all, bs = t0.y_train, t0.batch_size
        h = stack.hypers()
        steps = -(-perm.shape[1] // bs)
        # the steps any variant's meter measures: their norms are taken for all variants at once (K,
        # parameters) and each meter gets its rows at the epoch's end, not 16 small copies a step
        plans = [(k, meter, meter.measured_steps(steps)) for k, meter in meters]
        due = sorted({s for _, _, plan in plans for s in plan})
        norms: list[torch.Tensor] = []
        grads: list[torch.Tensor] = []
        # the epoch's batches gathered in one indexing each: a batch is then a slice, not a gather
        x_epoch = x_all[rows, perm] if augmented else x_all[perm]  # (K, N, in)
        y_epoch = y_all[perm]
        for step, i in enumerate(range(0, perm.shape[1], bs)):
            xb, yb = x_epoch[:, i : i + bs], y_epoch[:, i : i + bs]
            grads = stack.with_penalty(stack.gradients(xb, yb, h), h)
            if len(norms) < len(due) and due[len(norms)] == step:
                norms.append(torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], 1))
            stack.update(grads, h)
        measured_norms = torch.stack(norms) if norms else None  # (measured steps, K, parameters)
        for k, meter, plan in plans:
            if not plan:
                meter.load(torch.empty(0), steps)
            elif len(plan) == len(due):
                meter.load(measured_norms[:, k], steps)
            else:
                meter.load(measured_norms[[due.index(s) for s in plan], k], steps)
        measured = self._measure_stack(stack, trainers, w_before, grads)
        out = {k: t._end_of_epoch(t.epoch, t_epoch, m) for k, t, m in zip(members, trainers, measured, strict=True)}
        self._release_ended()
        return out

    def _measure_stack(self, stack: _Stack, trainers: list[Trainer], w_before, grads, epoch: int | None = None) -> list:
        """Each variant's `Measured` after the epoch (`epoch`, else the variants' current one), taken at once
        for the variants that share a telemetry configuration (sweep_telemetry); `w_before`: the stacked
        weights at the epoch's start, `grads`: the stacked gradients of its last step."""
        parts: dict[str, list[int]] = {}
        for i, t in enumerate(trainers):
            parts.setdefault(t.tel.model_dump_json(), []).append(i)
        measured: list = [None] * len(trainers)
        epoch = trainers[0].epoch if epoch is None else epoch
        for idx in parts.values():
            sub = (lambda ts: ts) if len(idx) == len(trainers) else _rows(idx)
            got = stack.telemetry.measure(
                [trainers[i] for i in idx],
                sub(stack.params),
                epoch,
                None if w_before is None else sub(w_before),
                sub(grads) if grads else None,
            )
            for i, m in zip(idx, got, strict=True):
                measured[i] = m
        return measured


def _rows(idx: list[int]):
    """A function taking rows `idx` (variants) of each of a list of stacked tensors."""

    def take(ts: list[torch.Tensor]) -> list[torch.Tensor]:
        at = torch.tensor(idx, dtype=torch.long, device=ts[0].device)
        return [t.detach().index_select(0, at) for t in ts]

    return take
