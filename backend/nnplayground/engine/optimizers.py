"""Optimizers and learning-rate schedules.

Momentum follows the course literally: a velocity that is an exponential average of gradients,
    V_t = alpha * V_{t-1} + (1 - alpha) * grad,   V_0 = 0,   W <- W - lr * V_t.
PyTorch's SGD(momentum=...) is a different rule (V_t = mu*V_{t-1} + grad, buffer started at the first
gradient, no (1 - alpha) factor), so the course's version is written out here."""

from __future__ import annotations

import torch
from torch.optim import lr_scheduler

from .config import OptimizerConfig, ScheduleConfig


class EMAMomentum(torch.optim.Optimizer):
    """The course's momentum. `nesterov=True` steps along the look-ahead alpha*V_t + (1-alpha)*grad."""

    def __init__(self, params, lr: float, alpha: float = 0.9, nesterov: bool = False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "nesterov": nesterov})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            vel = []
            for p in params:
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p)  # V_0 = 0
                vel.append(state["velocity"])
            a = group["alpha"]
            torch._foreach_mul_(vel, a)
            torch._foreach_add_(vel, grads, alpha=1 - a)
            if group["nesterov"]:
                look = torch._foreach_mul(vel, a)
                torch._foreach_add_(look, grads, alpha=1 - a)
                torch._foreach_add_(params, look, alpha=-group["lr"])
            else:
                torch._foreach_add_(params, vel, alpha=-group["lr"])
        return loss


def build_optimizer(cfg: OptimizerConfig, groups: list[dict]) -> torch.optim.Optimizer:
    """`groups` are torch param groups, each possibly with its own "lr". The weight-decay penalty is
    added to the loss by the trainer (the course's formulation); only AdamW decays inside the step,
    decoupled from the gradient, which is the point of AdamW."""
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr)
    if cfg.name in ("momentum", "nesterov"):
        return EMAMomentum(groups, lr=cfg.lr, alpha=cfg.momentum, nesterov=cfg.name == "nesterov")
    if cfg.name == "adagrad":
        return torch.optim.Adagrad(groups, lr=cfg.lr, eps=cfg.eps)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=cfg.rho, eps=cfg.eps)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    if cfg.name == "adamw":
        for g in groups:
            g.setdefault("weight_decay", cfg.weight_decay if g.get("decay", True) else 0.0)
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    raise ValueError(f"optimizer.name: unknown optimizer {cfg.name!r}")


def decay_growth(cfg: OptimizerConfig, lr: float, penalty_in_loss: bool, steps: int = 32) -> float:
    """How much the weight-decay term alone scales the weights' magnitude per step, measured: the
    optimizer `cfg` at learning rate `lr` moves a single weight w = 1 on nothing but the decay (the
    gradient lambda*w of the penalty (1/2)*lambda*w^2 when `penalty_in_loss`, else AdamW's decoupled
    decay) for 2*`steps` steps, and the per-step growth of the largest |w| from the first `steps`
    steps to the next comes back. Plain SGD and AdamW give exactly |1 - lr*lambda|. Above 1 the
    decay alone makes the weights oscillate with growing amplitude, which no gradient of the data
    loss can stop; optimizers that divide the step by a gradient average (adagrad, rmsprop, adam)
    only bounce within about lr, so theirs stays below 1. (Float64: even 9**64 stays finite.)"""
    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = build_optimizer(cfg, [{"params": [w], "lr": lr, "decay": True}])
    peaks = [0.0, 0.0]
    for i in range(2 * steps):
        w.grad = cfg.weight_decay * w.detach().clone() if penalty_in_loss else torch.zeros_like(w)
        opt.step()
        peaks[i >= steps] = max(peaks[i >= steps], abs(w.item()))
    return (peaks[1] / peaks[0]) ** (1 / steps) if peaks[0] > 0 else 0.0


class Schedule:
    """Wraps torch.optim.lr_scheduler; `baseline(val_loss)` takes epoch 0, then `after_epoch(val_loss)`
    advances it once after each training epoch: a cut decided after epoch E applies from epoch E+1."""

    def __init__(self, cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, epochs: int):
        self.cfg = cfg
        self.optimizer = optimizer
        if cfg.name == "constant":
            self.sched = None
        elif cfg.name == "step":
            self.sched = lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        elif cfg.name == "exponential":
            self.sched = lr_scheduler.ExponentialLR(optimizer, gamma=cfg.gamma)
        elif cfg.name == "plateau":
            # Keras's convention, shared with early stopping: cut on the `patience`-th consecutive epoch
            # without improvement. torch cuts once num_bad_epochs > its patience, hence the -1.
            # eps=0: torch's default (1e-8) silently skips every cut of a learning rate below ~2e-8.
            self.sched = lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode="min",
                factor=cfg.factor,
                patience=max(cfg.patience - 1, 0),
                min_lr=cfg.min_lr,
                eps=0.0,
            )
        elif cfg.name == "cosine":
            self.sched = lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg.min_lr)
        else:
            raise ValueError(f"schedule.name: unknown schedule {cfg.name!r}")

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def baseline(self, val_loss: float) -> None:
        """Epoch 0's validation loss (the initial weights): the plateau schedule's first reference,
        so that epoch 1 already counts as an epoch with or without improvement. Other schedules
        ignore it (they count epochs of training)."""
        if isinstance(self.sched, lr_scheduler.ReduceLROnPlateau):
            self.sched.step(val_loss)

    def after_epoch(self, val_loss: float) -> None:
        if self.sched is None:
            return
        if isinstance(self.sched, lr_scheduler.ReduceLROnPlateau):
            self.sched.step(val_loss)
        else:
            self.sched.step()

    def state_dict(self) -> dict:
        return self.sched.state_dict() if self.sched is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.sched is not None and state:
            self.sched.load_state_dict(state)
