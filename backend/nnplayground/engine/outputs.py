"""Output views: what the model does, drawn in the form that suits the data.

    2-D classification   decision surface over the input plane (`surface` event, kind "decision")
    2-D regression       predicted value over the input plane (kind "regression2d")
    1-D regression       the fitted curve over x (kind "curve")
    images (digits)      predictions on the first validation images (kind "images")
    tabular data         the validation confusion matrix (kind "confusion")

A fully connected model's view also carries the network diagram's data (`network`): its weights and,
where the input can be drawn (the plane, the curve), each unit's response over it, taken from the same
forward pass through hooks. The caller runs the views in evaluation mode and inside the trainer's
`_unobserved()`, since MC-dropout passes draw random masks."""

from __future__ import annotations

import contextlib

import torch

from . import events, models, telemetry
from .config import TelemetryConfig
from .datasets import Data

IMAGES_SHOWN = 48  # validation images the "images" view predicts


@contextlib.contextmanager
def units_captured(model: models.Net):
    """While open, forward passes record each hidden layer's activations and the output layer's
    logits into the yielded dict (the network diagram's unit thumbnails come from the output view's
    own pass); records nothing for a network the diagram does not draw (convolutional)."""
    acts: dict[str, torch.Tensor] = {}
    handles = []
    if telemetry.network_eligible(model):
        handles = [
            b.act.register_forward_hook(lambda m, i, o, n=name: acts.__setitem__(n, o))
            for name, b in model.blocks.items()
        ]
        handles.append(model.out.register_forward_hook(lambda m, i, o: acts.__setitem__("out", o)))
    try:
        yield acts
    finally:
        for h in handles:
            h.remove()


def _feature_major(model: models.Net) -> bool:
    """Whether `grid_pass` may run `model` feature-major: fully connected, no batch norm, evaluation mode
    (dropout is then the identity and every activation is elementwise)."""
    return not model.training and all(
        isinstance(b.layer, torch.nn.Linear) and b.bn is None and b.pool is None for b in model.blocks.values()
    )


@torch.no_grad()
def grid_pass(model: models.Net, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(model(x), the activations `units_captured` records) for a batch of many points `x`, (points, inputs).
    A plain MLP in evaluation mode runs feature-major, W @ x.T: on one CPU thread the BLAS kernels are
    3-4x faster for (units, points) outputs than for the tall (points, units) ones of nn.Linear (a 64x64
    grid through a 2-8-8-2 MLP: 60 against 220 us). The numbers agree with model(x) to float32 rounding
    (the sums run in another order), far below the 3 decimals a surface sends. Other models take model(x)."""
    if not _feature_major(model):
        with units_captured(model) as acts:
            return model(x), acts
    acts: dict[str, torch.Tensor] = {}
    h = x.T
    for name, block in model.blocks.items():
        h = block.act(torch.addmm(block.layer.bias.unsqueeze(1), block.layer.weight, h))
        acts[name] = h.T
    logits = torch.addmm(model.out.bias.unsqueeze(1), model.out.weight, h).T
    acts["out"] = logits
    return logits, acts


class OutputView:
    """The output view of one run's data. `mc_samples` > 1 adds MC-dropout `uncertainty` (the spread
    over that many dropout passes); the 2-D grid is built once, since the plane does not move."""

    def __init__(
        self,
        data: Data,
        tel: TelemetryConfig,
        device: torch.device,
        x_val: torch.Tensor,
        y_val: torch.Tensor,
        mc_samples: int = 0,
    ):
        self.data, self.tel, self.device = data, tel, device
        self.x_val, self.y_val = x_val, y_val
        self.mc = mc_samples
        self.regression = data.task == "regression"
        self._grid: tuple[list, int, torch.Tensor] | None = None

    @torch.no_grad()
    def __call__(self, model: models.Net, epoch: int) -> dict | None:
        """The `surface` event of `epoch` for `model`, or None for data with no view (regression on
        more than one input)."""
        d = self.data
        if d.plane:  # 2-D data (classification or regression): a view over (x1, x2)
            return self.decision_surface(model, epoch)
        if d.input_shape == (1,) and self.regression:
            return self.fitted_curve(model, epoch)
        if self.regression:
            return None
        if d.is_image:
            return self.validation_images(model, epoch)
        return self.confusion(model, epoch)

    def plane_grid(self) -> tuple[list, int, torch.Tensor]:
        """(bounds, resolution, the grid's points through the data's preprocessing (resolution**2, inputs))
        of a view over the plane, row-major (`telemetry.grid`); built once."""
        if self._grid is None:
            bounds, res = self.data.bounds(), self.tel.surface_resolution
            self._grid = bounds, res, self.data.preprocess(telemetry.grid(bounds, res)).to(self.device)
        return self._grid

    def decision_surface(self, model: models.Net, epoch: int) -> dict:
        """The class-1 probability (two classes), the winning class's index and confidence, or for
        regression the predicted value (kind "regression2d") over a resolution x resolution grid of the
        plane. The grid goes through the data's own preprocessing (input features, standardization)."""
        d = self.data
        bounds, res, x = self.plane_grid()
        logits, acts = grid_pass(model, x)
        extra = {}
        if self.regression:  # the predicted value over the plane
            values = logits[:, 0]
        elif d.n_classes == 2:  # softmax of two logits, done as one sigmoid (much cheaper on a grid)
            values = torch.sigmoid(logits[:, 1] - logits[:, 0])
        else:
            conf, values = torch.softmax(logits, -1).max(1)
            extra["confidence"] = telemetry.round_list(conf, 3)
        if self.mc > 1:
            _, std = models.mc_predict(model, x, self.mc, self.regression)
            extra["uncertainty"] = telemetry.round_list(std if self.regression else std.max(1).values, 4)
        if acts:
            step = max(1, res // telemetry.UNIT_RESOLUTION)
            units = {n: a.reshape(res, res, -1)[::step, ::step].reshape(-1, a.shape[-1]) for n, a in acts.items()}
            if not self.regression:
                units["out"] = torch.softmax(units["out"], -1)  # each output unit: its class's probability
            extra["network"] = telemetry.network_view(model, units, len(range(0, res, step)), "grid")
        kind = "regression2d" if self.regression else "decision"
        return events.surface(
            epoch, kind, bounds=bounds, resolution=res, values=telemetry.round_list(values, 3), **extra
        )

    def fitted_curve(self, model: models.Net, epoch: int) -> dict:
        """The model's prediction at 200 evenly spaced x over the data's range."""
        lo, hi = self.data.bounds()[0]
        xs = torch.linspace(lo, hi, 200).unsqueeze(1)
        x = self.data.preprocess(xs).to(self.device)
        with units_captured(model) as acts:
            ys = models.predict(model, x, True)
        extra = {}
        if self.mc > 1:
            _, std = models.mc_predict(model, x, self.mc, True)
            extra["uncertainty"] = telemetry.round_list(std, 4)
        if acts:  # each unit's response over x: every step-th point of the fitted curve's xs
            step = len(xs) // telemetry.UNIT_POINTS
            units = {n: a[::step] for n, a in acts.items()}
            extra["network"] = telemetry.network_view(model, units, len(range(0, len(xs), step)), "curve")
        return events.surface(
            epoch, "curve", xs=telemetry.round_list(xs.squeeze(1), 4), ys=telemetry.round_list(ys, 4), **extra
        )

    def validation_images(self, model: models.Net, epoch: int) -> dict:
        """Label, prediction and confidence of the first IMAGES_SHOWN validation images."""
        conf, pred = models.predict(model, self.x_val, False).max(1)
        k = min(IMAGES_SHOWN, len(pred))
        extra = {}
        if self.mc > 1:
            _, std = models.mc_predict(model, self.x_val[:k], self.mc, False)
            extra["uncertainty"] = telemetry.round_list(std.max(1).values, 4)
        return events.surface(
            epoch,
            "images",
            indices=list(range(k)),
            labels=self.y_val[:k].tolist(),
            pred=pred[:k].tolist(),
            confidence=telemetry.round_list(conf[:k], 3),
            **extra,
            **self._links(model),
        )

    def confusion(self, model: models.Net, epoch: int) -> dict:
        """Counts of (true class, predicted class) over the validation split."""
        n = self.data.n_classes
        pred = models.predict(model, self.x_val, False).argmax(1)
        cm = torch.zeros(n, n, dtype=torch.long)
        cm.index_put_((self.y_val.cpu(), pred.cpu()), torch.ones(len(pred), dtype=torch.long), accumulate=True)
        return events.surface(
            epoch, "confusion", matrix=cm.tolist(), class_names=self.data.class_names, **self._links(model)
        )

    @staticmethod
    def _links(model: models.Net) -> dict:
        # tabular data and digits: the links' colours (weights); no input plane to draw thumbnails over
        return {"network": telemetry.network_view(model)} if telemetry.network_eligible(model) else {}
