"""The course's momentum, written out: PyTorch's SGD(momentum=...) is a different rule.

    V_t = alpha * V_{t-1} + (1 - alpha) * grad,   V_0 = 0,   W <- W - lr * V_t.

PyTorch's rule is V_t = mu*V_{t-1} + grad, with the buffer started at the first gradient and no
(1 - alpha) factor. Self-contained (torch only): the exported script copies this class verbatim."""

from __future__ import annotations

import torch


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
