"""`export?format=python`: a standalone PyTorch script that rebuilds a run's data pipeline, model and
training loop with nothing from nnplayground, so a student can read, run and change every line.

The data generators, the split, the course's momentum and early stopping are copied from the engine's
own source (inspect.getsource), so the script cannot drift from what the playground does; the rest is
written out for the run's configuration. Without dropout the script reproduces the run's losses; with
dropout the random masks differ (the playground's telemetry draws random numbers too)."""

from __future__ import annotations

import inspect
import json
import pprint
import textwrap

from ..engine import augmentation, datasets, optimizers, regularization

ACTIVATIONS = {
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "relu": "nn.ReLU()",
    "leaky_relu": "nn.LeakyReLU({slope})",
    "linear": "nn.Identity()",
}


def _src(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj)).strip() + "\n"


def _data_section(cfg: dict) -> str:
    d = cfg["dataset"]
    name = d["name"]
    out = []
    task = "regression" if name == "sine" else "classification"
    shape = "(1, 8, 8)" if name == "digits" else None
    if name in datasets._GENERATORS:
        out.append(_src(datasets._GENERATORS[name]))
        load = f"    x, y = {datasets._GENERATORS[name].__name__}({d['n_samples']}, {d['noise']!r}, rng)\n"
    elif name == "wine":
        load = (
            "    from sklearn.datasets import load_wine  # bundled with scikit-learn: no download\n\n"
            "    d = load_wine()\n    x, y = d.data, d.target.astype(float)\n"
            f"    if {d['n_samples']} < len(y):\n"
            f"        keep = np.sort(rng.choice(len(y), {d['n_samples']}, replace=False))\n"
            "        x, y = x[keep], y[keep]\n"
        )
    elif name == "digits":
        classes = sorted(d["classes"]) if d["classes"] else list(range(10))
        load = (
            "    from sklearn.datasets import load_digits  # 8x8 images bundled with scikit-learn\n\n"
            "    d = load_digits()\n    x, y = d.data / 16.0, d.target.astype(float)  # pixels in [0, 1]\n"
            f"    classes = {classes}\n"
            "    keep = np.isin(y, classes)\n"
            "    x, y = x[keep], np.searchsorted(classes, y[keep]).astype(float)  # labels 0..k-1\n"
        )
    else:
        load = (
            f"    arr = np.asarray({json.dumps(d['points'])}, dtype=float)\n"
            "    x, y = arr[:, :-1], arr[:, -1]\n"
            "    y = np.searchsorted(sorted(set(y.astype(int).tolist())), y).astype(float)\n"
        )
    out.append(_src(datasets._split))
    strat = "y.astype(int)" if task == "classification" else "None"
    per_class = ""
    if d.get("per_class") is not None and task == "classification":
        per_class = (
            f"    tr = np.concatenate([tr[y[tr] == c][: {d['per_class']}] for c in np.unique(y[tr])])\n"
            "    tr = rng.permutation(tr)\n"
        )
    ytype = "torch.long" if task == "classification" else "torch.float32"
    standardize = cfg["preprocessing"]["standardize"]
    if standardize and shape is None:
        pre = (
            "    shift = raw_tr.mean(0, keepdim=True)  # z-score with training-split statistics only\n"
            "    scale = raw_tr.std(0, keepdim=True).clamp_min(1e-8)\n"
        )
    elif standardize:
        pre = (
            "    shift = raw_tr.mean(0, keepdim=True)  # images: subtract the mean image only\n"
            "    scale = torch.ones_like(shift)\n"
        )
    else:
        pre = "    shift, scale = torch.zeros_like(raw_tr[:1]), torch.ones_like(raw_tr[:1])  # as they are\n"
    out.append(
        "def load_data():\n"
        f"    rng = np.random.default_rng({d['seed']})\n"
        + load
        + f"    tr, va = _split(len(y), {d['val_fraction']!r}, rng, {strat})\n"
        + per_class
        + f"    shape = {shape or '(x.shape[1],)'}\n"
        "    raw = torch.tensor(x, dtype=torch.float32).reshape(-1, *shape)\n"
        f"    yt = torch.tensor(y, dtype={ytype})\n"
        "    raw_tr, raw_va = raw[tr], raw[va]\n"
        + pre
        + "    return (raw_tr - shift) / scale, yt[tr], (raw_va - shift) / scale, yt[va]\n"
    )
    return "\n\n".join(out), task, name


def script(run_id: str, cfg: dict) -> str:
    m, opt, sch, tr, es = (
        cfg["model"],
        cfg["optimizer"],
        cfg["schedule"],
        cfg["training"],
        cfg["early_stopping"],
    )
    init, aug, tf = cfg["init"], cfg["augmentation"], cfg.get("transfer")
    bias_start = "the constant" if init["scheme"] == "constant" else "zero"
    stop_mode = "min" if es["monitor"] == "val_loss" else "max"
    stopper = "None"
    if es["enabled"]:
        stopper = f"EarlyStopping({es['patience']}, {es['min_delta']!r}, {stop_mode!r})"
    data_src, task, dname = _data_section(cfg)
    regression = task == "regression"
    cnn = m["arch"] == "cnn" or (m["arch"] == "auto" and dname == "digits")
    n_hidden = len(m["hidden"])
    acts = m["activations"] or [m["activation"]] * n_hidden
    drops = m["dropouts"] or [m["dropout"]] * n_hidden
    act_code = {k: v.format(slope=m["leaky_slope"]) for k, v in ACTIVATIONS.items()}

    parts = [
        f'''#!/usr/bin/env python3
"""nnplayground run {run_id}, as a standalone PyTorch script.

Data set {dname!r} ({task}), model {"CNN" if cnn else "MLP"} with hidden layers {m["hidden"]}, optimizer
{opt["name"]} (lr {opt["lr"]}), {tr["epochs"]} epochs. Needs torch and numpy (and scikit-learn for the
moons, wine and digits data sets). Run:  python run-{run_id}.py{" SOURCE_STATE.pt" if tf else ""}
"""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {pprint.pformat(cfg, width=100, sort_dicts=False)}
''',
        "# ---- data -----------------------------------------------------------------------------------\n",
        data_src,
        "\n# ---- model ----------------------------------------------------------------------------------\n",
        f'''ACTIVATIONS = {{{", ".join(f"{k!r}: lambda: {v}" for k, v in act_code.items())}}}


class Block(nn.Module):
    """Linear/Conv -> [BatchNorm on the pre-activation] -> activation -> [max-pool] -> [dropout]."""

    def __init__(self, layer, activation, dropout, pool=False):
        super().__init__()
        self.layer = layer
        conv = isinstance(layer, nn.Conv2d)
        width = layer.out_channels if conv else layer.out_features
        bn = nn.BatchNorm2d if conv else nn.BatchNorm1d
        self.bn = bn(width, momentum={1.0 - m["bn_alpha"]!r}) if {m["batch_norm"]} else None
        self.act = ACTIVATIONS[activation]()
        self.pool = nn.MaxPool2d(2) if pool else None
        self.drop = (nn.Dropout2d if conv else nn.Dropout)(dropout) if dropout > 0 else None

    def forward(self, x):
        z = self.layer(x)
        if self.bn is not None:
            z = self.bn(z)
        a = self.act(z)
        if self.pool is not None:
            a = self.pool(a)
        return self.drop(a) if self.drop is not None else a


class Net(nn.Module):
    def __init__(self, input_shape, n_out):
        super().__init__()
        self.blocks = nn.ModuleDict()
        n_in = math.prod(input_shape)
        if {cnn}:
            ch, side = input_shape[0], input_shape[1]
            for i, c in enumerate({m["conv_channels"]}):
                pool = side >= 2
                conv = nn.Conv2d(ch, c, 3, padding=1)
                self.blocks[f"conv{{i + 1}}"] = Block(conv, {m["activation"]!r}, 0.0, pool)
                ch, side = c, side // 2 if pool else side
            n_in = ch * side * side
        for i, (width, act, p) in enumerate(zip({m["hidden"]}, {acts}, {drops})):
            self.blocks[f"fc{{i + 1}}"] = Block(nn.Linear(n_in, width), act, p)
            n_in = width
        self.out = nn.Linear(n_in, n_out)

    def forward(self, x):
        for name, block in self.blocks.items():
            if name.startswith("fc") and x.dim() > 2:
                x = x.flatten(1)
            x = block(x)
        return self.out(x.flatten(1) if x.dim() > 2 else x)


@torch.no_grad()
def initialize(model, gen):
    """{init["scheme"]} initialization of weights; biases start at {bias_start}."""
    scheme, std, mode = {init["scheme"]!r}, {init["std"]!r}, {init["xavier_mode"]!r}
    if scheme == "pytorch_default":
        return
    for m in model.modules():
        if not isinstance(m, (nn.Linear, nn.Conv2d)):
            continue
        receptive = m.weight[0, 0].numel() if m.weight.dim() > 2 else 1
        fan_in, fan_out = m.weight.shape[1] * receptive, m.weight.shape[0] * receptive
        if scheme == "zeros":
            m.weight.zero_()
        elif scheme == "constant":
            m.weight.fill_(std)
        else:
            s = {{"normal": std, "he": math.sqrt(2.0 / fan_in),
                 "xavier": math.sqrt(1.0 / fan_in if mode == "fan_in" else 2.0 / (fan_in + fan_out))}}[scheme]
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * s)
        if m.bias is not None:
            m.bias.fill_(std if scheme == "constant" else 0.0)
''',
    ]
    if opt["name"] in ("momentum", "nesterov"):
        parts.append("\n# The course's momentum: V = alpha*V + (1-alpha)*grad (not PyTorch's SGD momentum).\n")
        parts.append(_src(optimizers.EMAMomentum))
    if es["enabled"]:
        parts.append("\n" + _src(regularization.EarlyStopping))
    augment_on = aug["noise_std"] > 0 or (dname == "digits" and (aug["rotation_deg"] or aug["scale"] or aug["shift"]))
    if augment_on:
        parts.append("\n" + _src(augmentation.augment))

    loss_fn = "F.mse_loss(out.squeeze(-1), y)" if regression else "F.cross_entropy(out, y)"
    score = (
        "1.0 - F.mse_loss(out.squeeze(-1), y).item() / max(torch.var(y, unbiased=False).item(), 1e-12)"
        if regression
        else "(out.argmax(-1) == y).float().mean().item()"
    )
    if opt["name"] == "sgd":
        make_opt = f"torch.optim.SGD(groups, lr={opt['lr']!r})"
    elif opt["name"] in ("momentum", "nesterov"):
        nesterov = opt["name"] == "nesterov"
        make_opt = f"EMAMomentum(groups, lr={opt['lr']!r}, alpha={opt['momentum']!r}, nesterov={nesterov})"
    elif opt["name"] == "adagrad":
        make_opt = f"torch.optim.Adagrad(groups, lr={opt['lr']!r}, eps={opt['eps']!r})"
    elif opt["name"] == "rmsprop":
        make_opt = f"torch.optim.RMSprop(groups, lr={opt['lr']!r}, alpha={opt['rho']!r}, eps={opt['eps']!r})"
    else:
        cls = "Adam" if opt["name"] == "adam" else "AdamW"
        make_opt = f"torch.optim.{cls}(groups, lr={opt['lr']!r}, betas={tuple(opt['betas'])!r}, eps={opt['eps']!r})"
    sched = {
        "constant": "None",
        "step": f"torch.optim.lr_scheduler.StepLR(opt, step_size={sch['step_size']}, gamma={sch['gamma']!r})",
        "exponential": f"torch.optim.lr_scheduler.ExponentialLR(opt, gamma={sch['gamma']!r})",
        "plateau": (
            # the playground's patience is Keras's (cut on the patience-th epoch without improvement);
            # torch's cuts one epoch later, hence the -1
            f"torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode='min', factor={sch['factor']!r}, "
            f"patience={max(sch['patience'] - 1, 0)}, min_lr={sch['min_lr']!r}, eps=0.0)"
        ),
        "cosine": (f"torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max={tr['epochs']}, eta_min={sch['min_lr']!r})"),
    }[sch["name"]]
    lam = opt["weight_decay"]
    penalty_in_loss = lam > 0 and opt["name"] != "adamw"
    transfer_code = ""
    if tf and tf["strategy"] != "scratch":
        transfer_code = f"""
# ---- transfer: start from the source run's weights (export it with ?format=state_dict) ------------
source = torch.load(sys.argv[1], weights_only=True)
own = model.state_dict()
own.update({{k: v for k, v in source.items() if not k.startswith("out.")}})  # new task: new output layer
model.load_state_dict(own)
names = [*model.blocks, "out"]
features = {{n for n in model.blocks if n.startswith("conv")}} or set(model.blocks)
strategy, k = {tf["strategy"]!r}, {tf["k"]}
if strategy == "freeze_features":
    frozen = features
elif strategy == "finetune_last_k":  # the last k layers, counted from the output, train
    frozen = set(names[: max(0, len(names) - k)])
else:  # finetune_all
    frozen = set()
scaled = features - frozen  # feature layers that still train, with a smaller learning rate
for n in frozen:
    for p in model.blocks[n].parameters():
        p.requires_grad_(False)
"""
    scale = tf["feature_lr_scale"] if tf and tf["strategy"] != "scratch" else 1.0
    parts.append(f"""

# ---- training ---------------------------------------------------------------------------------
torch.manual_seed({tr["seed"]})  # dropout masks
gen = torch.Generator().manual_seed({tr["seed"]})  # weights, shuffling, augmentation
x_train, y_train, x_val, y_val = load_data()
n_out = {1 if regression else "int(torch.cat([y_train, y_val]).max()) + 1"}
model = Net(tuple(x_train.shape[1:]), n_out)
initialize(model, gen)
frozen, scaled = set(), set()
{transfer_code}
# the weight-decay penalty covers weights and kernels{" and also biases" if opt["decay_biases"] else ""}
decayed = [
    p for mod in model.modules() for name, p in mod.named_parameters(recurse=False)
    if p.requires_grad
    and ({opt["decay_biases"]} or (name == "weight" and isinstance(mod, (nn.Linear, nn.Conv2d))))
]
decayed_ids = {{id(p) for p in decayed}}
groups = []
for layer, module in [*model.blocks.items(), ("out", model.out)]:
    for p in module.parameters():
        if p.requires_grad:
            lr = {opt["lr"]!r} * ({scale!r} if layer in scaled else 1.0)
            decay = {lam!r} if {opt["name"] == "adamw"} and id(p) in decayed_ids else 0.0
            groups.append({{"params": [p], "lr": lr, "weight_decay": decay}})
opt = {make_opt}
sched = {sched}
batch_size = min({tr["batch_size"]}, len(y_train))


def loss_of(out, y):
    return {loss_fn}


@torch.no_grad()
def evaluate(x, y):
    model.eval()
    out = model(x)
    return loss_of(out, y).item(), {score}


stopper = {stopper}
plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
saved = {{}}  # epoch -> weights, for restoring the best epoch
status, epoch = "completed", 0
best_val, best_epoch = math.inf, None


def track_best(epoch, val_loss, val_score):
    # The best epoch is the one early stopping would restore when it is on (its monitor, improving
    # by more than min_delta), else the lowest validation loss. True when early stopping says stop.
    global best_val, best_epoch
    monitored = val_loss if {es["monitor"] == "val_loss"} else val_score
    stop = stopper is not None and stopper.update(epoch, monitored)
    if (stopper.best_epoch == epoch) if stopper is not None else val_loss < best_val:
        best_val, best_epoch = val_loss, epoch
    return stop


# Epoch 0 (the initial weights) is the first reference of the best epoch, early stopping and plateau.
val_loss, val_score = evaluate(x_val, y_val)
saved[0] = {{k: v.clone() for k, v in model.state_dict().items()}}
track_best(0, val_loss, val_score)
if plateau:
    sched.step(val_loss)
for epoch in range(1, {tr["epochs"]} + 1):
    model.train()
    for n in frozen:
        model.blocks[n].eval()  # frozen layers keep their batch-norm statistics
    x = {"augment(x_train, SimpleNamespace(**CONFIG['augmentation']), gen)" if augment_on else "x_train"}
    n = len(y_train)
    perm = torch.randperm(n, generator=gen)
    if {m["batch_norm"]} and n % batch_size == 1:
        perm = perm[:-1]  # a batch of one sample has no batch statistics
    for i in range(0, len(perm), batch_size):
        idx = perm[i : i + batch_size]
        loss = loss_of(model(x[idx]), y_train[idx])
        if {penalty_in_loss}:  # (1/2) * lambda * ||w||^2
            loss = loss + 0.5 * {lam!r} * sum((p ** 2).sum() for p in decayed)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_loss, train_score = evaluate(x_train, y_train)
    val_loss, val_score = evaluate(x_val, y_val)
    print(f"epoch {{epoch:4d}}  train loss {{train_loss:.4f}}  val loss {{val_loss:.4f}}  "
          f"val {"R2" if regression else "acc"} {{val_score:.4f}}  lr {{opt.param_groups[0]['lr']:.4g}}")
    if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
        status = "diverged"
        print("The loss became NaN/infinite: a learning rate too high for this model and data, or a weight "
              "decay whose step factor 1 - lr*lambda is below -1 (SGD, AdamW).")
        break
    saved[epoch] = {{k: v.clone() for k, v in model.state_dict().items()}}
    if track_best(epoch, val_loss, val_score):
        status = "early_stopped"
        print(f"early stop at epoch {{epoch}}: no improvement since epoch {{best_epoch}}")
        break
    if sched is not None and epoch < {tr["epochs"]}:  # a change decided now applies from the next epoch
        sched.step(val_loss) if plateau else sched.step()
restore = {es["restore_best"]} and status != "diverged"
if stopper is not None and restore and best_epoch not in (None, epoch):
    model.load_state_dict(saved[best_epoch])
    print(f"restored the weights of epoch {{best_epoch}}")
print(f"{{status}} after {{epoch}} epochs; best epoch {{best_epoch}} (val loss {{best_val:.6f}}); "
      f"last epoch's val loss {{val_loss:.6f}}, val {"R2" if regression else "acc"} {{val_score:.6f}}")
""")
    return "".join(parts)
