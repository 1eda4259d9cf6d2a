"""The networks: an MLP and a small CNN, built from named blocks so that every probe, chart and
transfer strategy can speak of "fc1" or "conv2". A block is  Linear/Conv -> [BatchNorm] -> activation
-> [Dropout]: batch norm sits on the pre-activation, as in the course."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch
from torch import nn

from .choices import ACTIVATIONS
from .config import ModelConfig


class Block(nn.Module):
    """One layer of the network. `pre` is where pre-activations are read (after batch norm)."""

    def __init__(self, layer: nn.Module, activation: str, cfg: ModelConfig, dropout: float, pool: bool = False):
        super().__init__()
        self.layer = layer
        self.activation_name = activation
        conv = isinstance(layer, nn.Conv2d)
        width = layer.out_channels if conv else layer.out_features
        # PyTorch's running-average momentum weighs the *new* batch: momentum = 1 - alpha.
        bn_cls = nn.BatchNorm2d if conv else nn.BatchNorm1d
        self.bn = bn_cls(width, momentum=1.0 - cfg.bn_alpha) if cfg.batch_norm else None
        self.act = ACTIVATIONS[activation].build(cfg)
        self.pool = nn.MaxPool2d(2) if pool else None
        # Inverted dropout: kept units are scaled by 1/(1-p) in training so evaluation needs no change.
        drop_cls = nn.Dropout2d if conv else nn.Dropout
        self.drop = drop_cls(dropout) if dropout > 0 else None

    def forward(self, x):
        z = self.layer(x)
        if self.bn is not None:
            z = self.bn(z)
        a = self.act(z)
        if self.pool is not None:
            a = self.pool(a)
        if self.drop is not None:
            a = self.drop(a)
        return a

    @property
    def pre_module(self) -> nn.Module:
        return self.bn if self.bn is not None else self.layer


class Net(nn.Module):
    """Feature blocks (conv*, then fc*) and a linear output layer `out`; `blocks` keeps network order."""

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, ...], n_out: int, cnn: bool):
        super().__init__()
        self.blocks = nn.ModuleDict()
        self.n_conv = 0
        if cnn:
            ch, side = input_shape[0], input_shape[1]
            for i, c in enumerate(cfg.conv_channels):
                pool = side >= 2
                self.blocks[f"conv{i + 1}"] = Block(nn.Conv2d(ch, c, 3, padding=1), cfg.activation, cfg, 0.0, pool)
                ch, side = c, side // 2 if pool else side
            n_in = ch * side * side
            self.n_conv = len(cfg.conv_channels)
        else:
            n_in = 1
            for d in input_shape:
                n_in *= d
        for i, width in enumerate(cfg.hidden):
            self.blocks[f"fc{i + 1}"] = Block(
                nn.Linear(n_in, width), cfg.layer_activation(i), cfg, cfg.layer_dropout(i)
            )
            n_in = width
        self.out = nn.Linear(n_in, n_out)

    def forward(self, x):
        for name, block in self.blocks.items():
            if name.startswith("fc") and x.dim() > 2:
                x = x.flatten(1)
            x = block(x)
        return self.out(x.flatten(1) if x.dim() > 2 else x)

    def weight_layers(self) -> dict[str, nn.Module]:
        """The parametrised layers in network order, input side first: what per-layer metrics key on."""
        layers = {name: b.layer for name, b in self.blocks.items()}
        layers["out"] = self.out
        return layers

    def layer_params(self) -> dict[str, list[nn.Parameter]]:
        """All parameters of each layer (weights, biases, batch-norm gamma/beta), network order."""
        groups = {name: list(b.parameters()) for name, b in self.blocks.items()}
        groups["out"] = list(self.out.parameters())
        return groups

    def describe(self) -> list[dict]:
        rows = []
        for name, layer in self.weight_layers().items():
            block = self.blocks[name] if name in self.blocks else None
            rows.append(
                {
                    "name": name,
                    "kind": "conv" if isinstance(layer, nn.Conv2d) else "linear",
                    "shape": list(layer.weight.shape),
                    "activation": block.activation_name if block else "output",
                    "batch_norm": bool(block and block.bn is not None),
                    "dropout": float(block.drop.p) if block and block.drop is not None else 0.0,
                    "params": sum(p.numel() for p in (block or layer).parameters()),
                }
            )
        return rows


def build(cfg: ModelConfig, input_shape: tuple[int, ...], n_out: int, cnn: bool) -> Net:
    return Net(cfg, input_shape, n_out, cnn)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def set_dropout(model: nn.Module, on: bool) -> None:
    """Switch only the dropout layers (MC dropout keeps batch norm in evaluation mode)."""
    for m in model.modules():
        if isinstance(m, nn.Dropout | nn.Dropout2d):
            m.train(on)


@torch.no_grad()
def mc_predict(model: nn.Module, x: torch.Tensor, samples: int, regression: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """MC dropout: T forward passes with dropout on; the spread of the answers measures how much the
    prediction depends on particular units. Returns (mean, std) of probabilities (or values)."""
    was_training = model.training
    model.eval()
    set_dropout(model, True)
    try:
        outs = torch.stack([_output(model(x), regression) for _ in range(samples)])
    finally:
        model.train(was_training)
    return outs.mean(0), outs.std(0, unbiased=False)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, regression: bool) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        return _output(model(x), regression)
    finally:
        model.train(was_training)


def _output(logits: torch.Tensor, regression: bool) -> torch.Tensor:
    return logits.squeeze(-1) if regression else torch.softmax(logits, -1)


# ---- unit knock-out ---------------------------------------------------------------------------------


def knockout_errors(model: Net, units: list[dict]) -> list[dict]:
    """What is wrong with a knock-out list [{"layer": block name ("fc1", "conv1"...), "unit": index}]:
    [{"field": "knockout.{i}.layer" | "knockout.{i}.unit", "message"}], empty when every entry names an
    existing hidden unit (a channel, for a convolutional block). The output layer cannot be knocked out."""
    errors = []
    for i, u in enumerate(units):
        layer, unit = u.get("layer"), u.get("unit")
        if layer not in model.blocks:
            known = ", ".join(model.blocks) or "none: the model has no hidden layer"
            errors.append(
                {
                    "field": f"knockout.{i}.layer",
                    "message": f"no hidden layer {layer!r} (known: {known})",
                    "type": "knockout_layer",
                    "ctx": {"layer": str(layer), "known": known},
                }
            )
            continue
        layer_module = model.blocks[layer].layer
        width = layer_module.out_channels if isinstance(layer_module, nn.Conv2d) else layer_module.out_features
        if not isinstance(unit, int) or isinstance(unit, bool) or not 0 <= unit < width:
            errors.append(
                {
                    "field": f"knockout.{i}.unit",
                    "message": f"{layer} has units 0 to {width - 1}, got {unit!r}",
                    "type": "knockout_unit",
                    "ctx": {"layer": layer, "max": width - 1, "unit": repr(unit)},
                }
            )
    return errors


@contextlib.contextmanager
def knocked_out(model: Net, units: Iterable[tuple[str, int]]):
    """While open, each listed hidden unit (block name, unit index) outputs 0 in every forward pass: its
    block's output (after activation, pooling and dropout) is zeroed in that unit's column (a conv
    block: channel), so the layers above see the unit as switched off. Nothing is changed in the weights."""
    by_layer: dict[str, list[int]] = {}
    for layer, unit in units:
        by_layer.setdefault(layer, []).append(unit)

    def hook(idx):
        return lambda module, inputs, out: out.index_fill(1, torch.tensor(idx, device=out.device), 0.0)

    handles = [model.blocks[layer].register_forward_hook(hook(idx)) for layer, idx in by_layer.items()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


# ---- weight editing -----------------------------------------------------------------------------


def weight_edit_errors(model: Net, layer, index, value) -> list[dict]:
    """What is wrong with an edit of one parameter of a fully connected layer: `layer` a name of
    `model.weight_layers()` ("fc1", ..., "out"), `index` [unit, input] for a weight or [unit] for a bias,
    `value` a finite number. [{"field": "layer" | "index" | "value", "message"}], empty when valid."""
    layers = model.weight_layers()
    if layer not in layers or not isinstance(layers[layer], nn.Linear):
        known = ", ".join(n for n, m in layers.items() if isinstance(m, nn.Linear))
        return [
            {
                "field": "layer",
                "message": f"no fully connected layer {layer!r} (known: {known})",
                "type": "weight_layer",
                "ctx": {"layer": str(layer), "known": known},
            }
        ]
    shape = tuple(layers[layer].weight.shape)  # (units, inputs)
    ok = isinstance(index, list | tuple) and len(index) in (1, 2)
    ok = ok and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i, n in zip(index, shape, strict=False)
    )
    errors = []
    if not ok:
        errors.append(
            {
                "field": "index",
                "message": f"[unit, input] with unit < {shape[0]} and input < {shape[1]} (a weight), or [unit] "
                f"(the bias); got {index!r}",
                "type": "weight_index",
                "ctx": {"units": shape[0], "inputs": shape[1], "index": repr(index)},
            }
        )
    if not isinstance(value, int | float) or isinstance(value, bool) or not abs(value) <= 1e6:
        errors.append(
            {
                "field": "value",
                "message": f"a finite number within +-1e6, got {value!r}",
                "type": "weight_value",
                "ctx": {"max": 1e6, "value": repr(value)},
            }
        )
    return errors
