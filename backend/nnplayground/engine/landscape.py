"""The optimizer lab: minimise a 2-D function with several optimizers at once and return their
paths. The optimizers are the very ones the networks train with (optimizers.build_optimizer), so the
momentum here is the course's V = alpha*V + (1-alpha)*grad."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from .config import Finite, OptimizerConfig
from .optimizers import build_optimizer


def quadratic(x, y):
    """An ill-conditioned bowl: 25 times steeper along y than along x (plain SGD zig-zags)."""
    return 0.5 * x**2 + 12.5 * y**2


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def saddle(x, y):
    """x^2 - y^2: a minimum along x, a maximum along y; the origin is a saddle point."""
    return x**2 - y**2


FUNCTIONS = {"quadratic": quadratic, "rosenbrock": rosenbrock, "saddle": saddle}
BOUNDS = {
    "quadratic": [[-3.0, 3.0], [-3.0, 3.0]],
    "rosenbrock": [[-2.0, 2.0], [-1.0, 3.0]],
    "saddle": [[-2.0, 2.0], [-2.0, 2.0]],
}
MINIMUM = {"quadratic": [0.0, 0.0], "rosenbrock": [1.0, 1.0], "saddle": None}
ESCAPE = 1e4  # a path that leaves this far has diverged: it ends there


class LandscapeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    function: Literal["rosenbrock", "quadratic", "saddle"] = Field("rosenbrock", description="The 2-D function.")
    start: tuple[Finite, Finite] = Field((-1.5, 2.0), description="Where every optimizer starts.")
    steps: int = Field(200, ge=1, le=5000, description="Optimizer steps per path.")
    optimizers: list[OptimizerConfig] = Field(
        default_factory=lambda: [OptimizerConfig(name="sgd", lr=0.001)], min_length=1, max_length=8
    )
    grid: int = Field(0, ge=0, le=200, description="Also return f on a grid of this many cells a side (0 = no).")


def descend(fn, start: tuple[float, float], opt: OptimizerConfig, steps: int) -> list[list[float]]:
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    optimizer = build_optimizer(opt, [{"params": [p], "decay": True}])
    path = [list(start)]
    for _ in range(steps):
        optimizer.zero_grad()
        fn(p[0], p[1]).backward()
        optimizer.step()
        x, y = p.detach().tolist()
        if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > ESCAPE:
            break
        path.append([x, y])
    return path


def solve(req: LandscapeRequest) -> dict:
    fn = FUNCTIONS[req.function]
    out = {
        "function": req.function,
        "bounds": BOUNDS[req.function],
        "minimum": MINIMUM[req.function],
        "paths": [descend(fn, req.start, o, req.steps) for o in req.optimizers],
    }
    out["final_values"] = [float(fn(*map(torch.tensor, path[-1]))) for path in out["paths"]]
    if req.grid:
        (x0, x1), (y0, y1) = BOUNDS[req.function]
        ys, xs = torch.meshgrid(torch.linspace(y0, y1, req.grid), torch.linspace(x0, x1, req.grid), indexing="ij")
        out["grid"] = {
            "resolution": req.grid,
            "values": torch.round(fn(xs, ys).double().flatten(), decimals=4).tolist(),
        }
    return out
