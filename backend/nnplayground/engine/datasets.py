"""Data sets: generated 2-D toys, a noisy sine, scikit-learn's bundled wine and digits, and user
points. Nothing is fetched from the network. Preprocessing statistics come from the training split only."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from .choices import DEFAULT_FEATURES, dataset_task, feature_map, is_plane
from .config import TWO_D, ConfigError, DatasetConfig, PreprocessingConfig, RunConfig


@dataclass
class Data:
    name: str
    task: str  # "classification" | "regression"
    x_train: torch.Tensor  # preprocessed model inputs (N, *input_shape)
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    raw_train: torch.Tensor  # the same samples before preprocessing (for plots): 2-D data, (N, 2) coordinates
    raw_val: torch.Tensor
    n_classes: int  # 1 output for regression
    input_shape: tuple[int, ...]  # one model input: (len(features),) for 2-D data with input features
    shift: torch.Tensor  # preprocessing: x = (f(raw) - shift) / scale, both float64 (1, *input_shape)
    scale: torch.Tensor
    class_names: list[str] = field(default_factory=list)
    features: tuple[str, ...] | None = None  # 2-D data: f, the input features (choices.FEATURES); None: f(raw) = raw

    @property
    def plane(self) -> bool:
        """Raw inputs are points of the plane: the output view is a surface over (x1, x2)."""
        return not self.is_image and self.raw_width == 2

    @property
    def raw_width(self) -> int:
        """Values of one raw input (what predict takes): 2 for 2-D data whatever its features."""
        return math.prod(self.raw_train.shape[1:])

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    def preprocess(self, raw: torch.Tensor) -> torch.Tensor:
        """Apply the training-split preprocessing to raw inputs (N, *input_shape) -> float32 model inputs.
        Raw values are first rounded to float32 (the precision the data set is stored in), then shifted and
        scaled in float64, so new inputs go through exactly the arithmetic of the training split."""
        raw = raw.reshape(-1, *self.raw_train.shape[1:]).to(self.raw_train.dtype).double()
        if self.features is not None:
            raw = feature_map(raw, self.features)
        return ((raw - self.shift) / self.scale).to(self.raw_train.dtype)

    def bounds(self, margin: float = 0.1) -> list[list[float]]:
        """Bounding box of all raw inputs, per feature, with a margin: the decision surface's extent."""
        # float64: the span of huge float32 values (custom columns near 3e38) overflows float32
        allx = torch.cat([self.raw_train, self.raw_val]).reshape(-1, self.raw_width).double()
        lo, hi = allx.min(0).values, allx.max(0).values
        pad = (hi - lo).clamp_min(1e-6) * margin
        # the plane is sampled in float32: keep its edges inside the float32 range
        big = float(torch.finfo(self.raw_train.dtype).max)
        lo, hi = (lo - pad).clamp(-big, big), (hi + pad).clamp(-big, big)
        return [[round(float(a), 4), round(float(b), 4)] for a, b in zip(lo, hi, strict=True)]

    def summary(self) -> dict:
        counts = None
        if self.task == "classification":
            counts = torch.bincount(self.y_train, minlength=self.n_classes).tolist()
        return {
            "name": self.name,
            "task": self.task,
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "class_names": self.class_names,
            "train_class_counts": counts,
            "bounds": self.bounds() if not self.is_image else None,
        }


# ---- generators (raw numpy arrays; the scale of TensorFlow Playground's plane, about [-6, 6]) ----


def _circle(n, noise, rng):
    r = np.concatenate([rng.uniform(0, 2.5, n // 2), rng.uniform(3.5, 5.0, n - n // 2)])
    a = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(a), r * np.sin(a)], 1) + rng.normal(0, noise * 5, (n, 2))
    y = np.concatenate([np.ones(n // 2), np.zeros(n - n // 2)])
    return x, y


def _xor(n, noise, rng):
    x = rng.uniform(-5, 5, (n, 2))
    x += np.sign(x) * 0.3  # keep a small gap along the axes
    y = (x[:, 0] * x[:, 1] > 0).astype(float)
    return x + rng.normal(0, noise * 5, (n, 2)), y


def _gauss(n, noise, rng):
    centers = np.array([[2.0, 2.0], [-2.0, -2.0]])
    y = np.arange(n) % 2
    x = centers[y] + rng.normal(0, 0.5 + noise * 4, (n, 2))
    return x, y.astype(float)


def _spiral(n, noise, rng):
    half = n // 2
    xs, ys = [], []
    for label, (count, delta) in enumerate([(half, 0.0), (n - half, np.pi)]):
        t = np.linspace(0, 1, count)
        r = t * 5
        a = 1.75 * t * 2 * np.pi + delta
        pts = np.stack([r * np.sin(a), r * np.cos(a)], 1) + rng.normal(0, noise * 2, (count, 2))
        xs.append(pts)
        ys.append(np.full(count, float(label)))
    return np.concatenate(xs), np.concatenate(ys)


def _moons(n, noise, rng):
    from sklearn.datasets import make_moons

    x, y = make_moons(n, noise=noise, random_state=int(rng.integers(2**31)))
    return x * 2.5 - np.array([1.25, 0.6]), y.astype(float)


def _sine(n, noise, rng):
    x = rng.uniform(-3, 3, (n, 1))
    y = np.sin(x[:, 0] * 1.5) + rng.normal(0, noise * 1.0 + 1e-9, n)
    return x, y


def _plane(n, noise, rng):
    """TensorFlow Playground's regression plane: target (x1 + x2) / 10 in [-1.2, 1.2], read at a point
    displaced by uniform noise (noise * 6 at most per coordinate)."""
    x = rng.uniform(-6, 6, (n, 2))
    moved = x + rng.uniform(-6, 6, (n, 2)) * noise
    return x, moved.sum(1) / 10


def _multi_gauss(n, noise, rng):
    """TensorFlow Playground's multi-Gaussian: six bumps of sign +-1 on a 3x2 lattice; a point's target
    is the bump, of those near it, largest in size: sign * max(0, 1 - distance / 2)."""
    bumps = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])
    x = rng.uniform(-6, 6, (n, 2))
    moved = x + rng.uniform(-6, 6, (n, 2)) * noise
    dist = np.linalg.norm(moved[:, None, :] - bumps[None, :, :2], axis=2)  # (n, 6)
    values = bumps[:, 2] * np.clip(1 - dist / 2, 0, 1)
    return x, values[np.arange(n), np.abs(values).argmax(1)]


_GENERATORS = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
    "moons": _moons,
    "sine": _sine,
    "plane": _plane,
    "multi_gauss": _multi_gauss,
}


def _split(n: int, val_fraction: float, rng, stratify: np.ndarray | None):
    """Random train/validation split; stratified by class so every class appears on both sides."""
    if stratify is None:
        idx = rng.permutation(n)
        n_val = min(max(1, round(n * val_fraction)), n - 1)
        return idx[n_val:], idx[:n_val]
    tr, va = [], []
    for c in np.unique(stratify):
        idx = rng.permutation(np.flatnonzero(stratify == c))
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1)
        va.append(idx[:n_val])
        tr.append(idx[n_val:])
    return rng.permutation(np.concatenate(tr)), rng.permutation(np.concatenate(va))


@functools.lru_cache(maxsize=2)
def _bundled(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's bundled wine or digits (data, target, target names), read from disk once per process:
    admission sizes the split of every new configuration on the server's event loop."""
    from sklearn.datasets import load_digits, load_wine

    d = {"wine": load_wine, "digits": load_digits}[name]()
    d.data.flags.writeable = d.target.flags.writeable = False  # shared by every caller
    return d.data, d.target, list(d.target_names)


def _arrays(cfg: DatasetConfig, rng) -> tuple[np.ndarray, np.ndarray, str, tuple[int, ...] | None, list[str]]:
    """The whole data set as float64 numpy arrays: (x, y, task, image shape or None, class names)."""
    task, shape, names = dataset_task(cfg), None, []
    if cfg.name in _GENERATORS:
        x, y = _GENERATORS[cfg.name](cfg.n_samples, cfg.noise, rng)
    elif cfg.name == "wine":
        data, target, target_names = _bundled("wine")
        x, y = data.copy(), target.astype(float)
        names = [str(n) for n in target_names]
        if cfg.n_samples < len(y):
            keep = np.sort(rng.choice(len(y), cfg.n_samples, replace=False))
            x, y = x[keep], y[keep]
    elif cfg.name == "digits":
        data, target, _ = _bundled("digits")
        x, y = data / 16.0, target.astype(float)  # pixels in [0, 1]
        classes = sorted(cfg.classes) if cfg.classes else list(range(10))
        keep = np.isin(y, classes)
        x, y = x[keep], np.searchsorted(classes, y[keep]).astype(float)  # relabel to 0..k-1
        names = [str(c) for c in classes]
        shape = (1, 8, 8)
    else:  # custom
        arr = np.asarray(cfg.points, dtype=float)
        x, y = arr[:, :-1], arr[:, -1]
        if task == "classification":
            present = sorted(set(y.astype(int).tolist()))
            y = np.searchsorted(present, y).astype(float)
            names = [str(c) for c in present]
    if cfg.name in TWO_D:
        names = ["0", "1"]
    return x, y, task, shape, names


def _n_val(k: int, val_fraction: float) -> int:
    """Validation samples out of k (of one class): the share, with at least one sample on each side (the
    counts of `_split`, which keeps its own copy: the exported script copies its source alone)."""
    return 0 if k < 2 else min(max(1, round(k * val_fraction)), k - 1)


def _sequential_split(labels: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices of points in the order they were added: the k-th point of a class goes to
    validation when the class's validation count `_n_val` grows at k. A point's side depends only on the
    points before it, so adding a point never moves an existing one between the sides (a drawn point
    stays a training dot or a validation ring), and each class gets the same counts as `_split`.
    `_n_val` grows by 0 or 1 per point (val_fraction < 1), so the counts are met exactly."""
    seen: dict[int, int] = {}
    val = np.zeros(len(labels), dtype=bool)
    for i, c in enumerate(labels.tolist()):
        k = seen[c] = seen.get(c, 0) + 1
        val[i] = _n_val(k, val_fraction) > _n_val(k - 1, val_fraction)
    return np.flatnonzero(~val), np.flatnonzero(val)


def _train_val(cfg: DatasetConfig, y: np.ndarray, task: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation samples (the split, then the per-class cap). Custom points
    are split in the order they were added (`_sequential_split`), so drawing never reshuffles them."""
    strat = y.astype(int) if task == "classification" else None
    if cfg.name == "custom" and strat is not None:
        tr, va = _sequential_split(strat, cfg.val_fraction)
    else:
        tr, va = _split(len(y), cfg.val_fraction, rng, strat)
    if cfg.per_class is not None and task == "classification":
        tr = np.concatenate([tr[y[tr] == c][: cfg.per_class] for c in np.unique(y[tr])])
        tr = rng.permutation(tr)
    return tr, va


def _standardization(raw_tr: np.ndarray, image: bool) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) of x = (raw - shift) / scale from the training split, as scikit-learn's
    StandardScaler computes them: in float64, population standard deviation, and scale 1 for a column
    whose variance is zero or within the round-off of its mean (so a constant column becomes exactly 0
    and one training sample gives zeros, not NaN). Images only subtract the mean image."""
    n = len(raw_tr)
    flat = raw_tr.reshape(n, -1).astype(np.float64)
    shift = flat.mean(0)
    scale = np.ones_like(shift)
    if not image:
        var = flat.var(0)
        eps = np.finfo(np.float64).eps
        # scikit-learn's _is_constant_feature: the worst-case round-off of the mean/variance computation
        constant = var <= n * eps * var + (n * shift * eps) ** 2
        scale = np.where(constant, 1.0, np.sqrt(var))
        # exact zeros for constant columns: shift by the value itself, not by a rounded mean
        shift = np.where(constant & (np.ptp(flat, 0) == 0), flat[0], shift)
    return shift.reshape(1, *raw_tr.shape[1:]), scale.reshape(1, *raw_tr.shape[1:])


def load(cfg: DatasetConfig, pre: PreprocessingConfig, dtype=torch.float32) -> Data:
    rng = np.random.default_rng(cfg.seed)
    x, y, task, shape, names = _arrays(cfg, rng)
    tr, va = _train_val(cfg, y, task, rng)

    shape = shape or (x.shape[1],)
    # Raw inputs live in `dtype` (what the model sees); statistics come from those very values in float64.
    raw = torch.tensor(x, dtype=dtype).reshape(-1, *shape)
    yt = torch.tensor(y, dtype=torch.long if task == "classification" else dtype)
    raw_tr, raw_va = raw[tr], raw[va]
    # 2-D data: the model's inputs are the features of the raw coordinates (x1, x2 themselves by default)
    features = tuple(pre.features) if is_plane(cfg) and tuple(pre.features) != DEFAULT_FEATURES else None
    feats_tr = feature_map(raw_tr.double(), features) if features else raw_tr.double()
    shape = tuple(feats_tr.shape[1:])
    shift = torch.zeros((1, *shape), dtype=torch.float64)
    scale = torch.ones((1, *shape), dtype=torch.float64)
    if pre.standardize:
        s, c = _standardization(feats_tr.numpy(), image=len(shape) > 1)
        shift, scale = torch.from_numpy(s), torch.from_numpy(c)
    n_classes = int(yt.max()) + 1 if task == "classification" else 1
    if task == "classification" and not names:
        names = [str(c) for c in range(n_classes)]
    data = Data(
        name=cfg.name,
        task=task,
        x_train=raw_tr,
        y_train=yt[tr],
        x_val=raw_va,
        y_val=yt[va],
        raw_train=raw_tr,
        raw_val=raw_va,
        n_classes=n_classes,
        input_shape=tuple(shape),
        shift=shift,
        scale=scale,
        class_names=names,
        features=features,
    )
    data.x_train, data.x_val = data.preprocess(raw_tr), data.preprocess(raw_va)
    return data


class Split(NamedTuple):
    """The shape of a loaded data set: sample counts of each side, model input shape, model outputs."""

    n_train: int
    n_val: int
    input_shape: tuple[int, ...]
    n_out: int


def split_sizes(cfg: DatasetConfig) -> Split:
    """What `load` will produce, without preprocessing or tensors. The split keeps at least one sample on
    each side (of each class, for classification)."""
    if cfg.name == "custom":  # large, and admitted off the event loop anyway: not worth caching
        return _split_sizes(cfg)
    return _cached_split_sizes(cfg.model_dump_json())


@functools.lru_cache(maxsize=128)
def _cached_split_sizes(cfg_json: str) -> Split:
    return _split_sizes(DatasetConfig.model_validate_json(cfg_json))


def _split_sizes(cfg: DatasetConfig) -> Split:
    rng = np.random.default_rng(cfg.seed)
    x, y, task, shape, _ = _arrays(cfg, rng)
    tr, va = _train_val(cfg, y, task, rng)
    n_out = int(y.max()) + 1 if task == "classification" else 1
    return Split(len(tr), len(va), shape or (x.shape[1],), n_out)


def check_trainable(cfg: RunConfig, split: Split | None = None, source_config: dict | None = None) -> None:
    """The rules a configuration must meet as a whole before training starts, shared by the engine
    (`Trainer`) and the server's admission (HTTP 422). `split` describes the data when it is already
    loaded; `source_config` is a transfer source's run configuration. Raises ConfigError naming the
    field to change.

    - Batch normalization in training mode needs at least 2 samples in every batch (one sample has no
      batch variance); the trainer already drops a last batch of one, so the training split needs 2.
    - A transfer source must have learned inputs of this data set's shape, and `continue`, which keeps
      the source's output layer, as many classes (outputs) as this data set has.
    Everything else holds by construction: the split leaves at least one sample on each side (per
    class), standardization gives scale 1 to zero-variance columns (one training sample included),
    custom points need 2 samples of each of at least 2 classes, digits need 2 classes."""
    split = split or split_sizes(cfg.dataset)
    if cfg.model.batch_norm and split.n_train < 2:
        raise ConfigError(
            "dataset.val_fraction",
            f"batch normalization needs at least 2 training samples, but this split leaves {split.n_train} of "
            f"{split.n_train + split.n_val} for training; lower dataset.val_fraction, raise dataset.n_samples "
            "or switch model.batch_norm off",
            "batch_norm_split",
            {"n_train": split.n_train, "n": split.n_train + split.n_val},
        )
    if cfg.transfer is not None and source_config is not None and cfg.transfer.strategy != "scratch":
        source = split_sizes(DatasetConfig.model_validate(source_config.get("dataset", {})))
        if source.input_shape != split.input_shape:
            raise ConfigError(
                "transfer.source",
                f"the source learned inputs of shape {list(source.input_shape)}, this data set has "
                f"{list(split.input_shape)}",
                "transfer_input_shape",
                {"source": str(list(source.input_shape)), "target": str(list(split.input_shape))},
            )
        if cfg.transfer.strategy == "continue" and source.n_out != split.n_out:
            raise ConfigError(
                "transfer.strategy",
                f"'continue' keeps the source's output layer of {source.n_out} outputs, this data set needs "
                f"{split.n_out}; use another strategy",
                "transfer_outputs",
                {"source": source.n_out, "target": split.n_out},
            )


def view(cfg: DatasetConfig, pre: PreprocessingConfig, max_points: int = 2000, max_images: int = 48) -> dict:
    """The data as the UI draws it, before any training: raw points with label and split for 2-D and
    1-D data, validation images (pixels in [0, 1]) for digits, feature ranges for tabular data."""
    d = load(cfg, pre)
    out = d.summary()
    if d.is_image:
        k = min(max_images, len(d.y_val))
        out["images"] = d.raw_val[:k, 0].double().round(decimals=3).tolist()
        out["image_labels"] = d.y_val[:k].tolist()
        return out
    if d.raw_width <= 2:
        # the view draws raw points: its input_shape is theirs (two coordinates for the plane), whatever
        # input features the model reads (their count is run_start's first layer's fan-in)
        out["input_shape"] = [d.raw_width]
        rows = []
        for split, x, y in (("train", d.raw_train, d.y_train), ("val", d.raw_val, d.y_val)):
            for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
                rows.append([*(round(v, 4) for v in xi), round(yi, 4) if d.task == "regression" else yi, split])
        out["points"] = rows[:max_points]
        return out
    allx = torch.cat([d.raw_train, d.raw_val])
    out["feature_ranges"] = [
        [round(a, 4), round(b, 4)]
        for a, b in zip(allx.min(0).values.tolist(), allx.max(0).values.tolist(), strict=True)
    ]
    return out
