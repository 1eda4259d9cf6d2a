"""Data sets: generated 2-D toys, a noisy sine, scikit-learn's bundled wine and digits, and user
points. Nothing is fetched from the network. Preprocessing statistics come from the training split only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .config import TWO_D, DatasetConfig, PreprocessingConfig


@dataclass
class Data:
    name: str
    task: str  # "classification" | "regression"
    x_train: torch.Tensor  # preprocessed model inputs
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    raw_train: torch.Tensor  # the same samples before preprocessing (for plots)
    raw_val: torch.Tensor
    n_classes: int  # 1 output for regression
    input_shape: tuple[int, ...]
    shift: torch.Tensor  # preprocessing: x = (raw - shift) / scale
    scale: torch.Tensor
    class_names: list[str] = field(default_factory=list)

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    @property
    def n_features(self) -> int:
        return math.prod(self.input_shape)

    def preprocess(self, raw: torch.Tensor) -> torch.Tensor:
        """Apply the training-split preprocessing to new raw inputs (prediction, surfaces)."""
        raw = raw.reshape(-1, *self.input_shape).to(self.shift.dtype)
        return (raw - self.shift) / self.scale

    def bounds(self, margin: float = 0.1) -> list[list[float]]:
        """Bounding box of all raw inputs, per feature, with a margin: the decision surface's extent."""
        allx = torch.cat([self.raw_train, self.raw_val]).reshape(-1, self.n_features)
        lo, hi = allx.min(0).values, allx.max(0).values
        pad = (hi - lo).clamp_min(1e-6) * margin
        return [[round(float(a), 4), round(float(b), 4)] for a, b in zip(lo - pad, hi + pad, strict=True)]

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


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral, "moons": _moons, "sine": _sine}


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


def load(cfg: DatasetConfig, pre: PreprocessingConfig, dtype=torch.float32) -> Data:
    rng = np.random.default_rng(cfg.seed)
    task, shape, names = "classification", None, []
    if cfg.name in _GENERATORS:
        x, y = _GENERATORS[cfg.name](cfg.n_samples, cfg.noise, rng)
        if cfg.name == "sine":
            task = "regression"
    elif cfg.name == "wine":
        from sklearn.datasets import load_wine

        d = load_wine()
        x, y = d.data, d.target.astype(float)
        names = [str(n) for n in d.target_names]
        if cfg.n_samples < len(y):
            keep = np.sort(rng.choice(len(y), cfg.n_samples, replace=False))
            x, y = x[keep], y[keep]
    elif cfg.name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = d.data / 16.0, d.target.astype(float)  # pixels in [0, 1]
        classes = sorted(cfg.classes) if cfg.classes else list(range(10))
        keep = np.isin(y, classes)
        x, y = x[keep], np.searchsorted(classes, y[keep]).astype(float)  # relabel to 0..k-1
        names = [str(c) for c in classes]
        shape = (1, 8, 8)
    else:  # custom
        arr = np.asarray(cfg.points, dtype=float)
        x, y = arr[:, :-1], arr[:, -1]
        present = sorted(set(y.astype(int).tolist()))
        y = np.searchsorted(present, y).astype(float)
        names = [str(c) for c in present]

    if cfg.name in TWO_D:
        names = ["0", "1"]
    strat = y.astype(int) if task == "classification" else None
    tr, va = _split(len(y), cfg.val_fraction, rng, strat)
    if cfg.per_class is not None and task == "classification":
        tr = np.concatenate([tr[y[tr] == c][: cfg.per_class] for c in np.unique(y[tr])])
        tr = rng.permutation(tr)

    shape = shape or (x.shape[1],)
    raw = torch.tensor(x, dtype=dtype).reshape(-1, *shape)
    yt = torch.tensor(y, dtype=torch.long if task == "classification" else dtype)
    raw_tr, raw_va = raw[tr], raw[va]
    shift = torch.zeros((1, *shape), dtype=dtype)
    scale = torch.ones((1, *shape), dtype=dtype)
    if pre.standardize:
        shift = raw_tr.mean(0, keepdim=True)
        if len(shape) == 1:  # tabular and 2-D: z-score; images: subtract the mean image only
            scale = raw_tr.std(0, keepdim=True).clamp_min(1e-8)
    n_classes = int(yt.max()) + 1 if task == "classification" else 1
    if task == "classification" and not names:
        names = [str(c) for c in range(n_classes)]
    return Data(
        name=cfg.name,
        task=task,
        x_train=(raw_tr - shift) / scale,
        y_train=yt[tr],
        x_val=(raw_va - shift) / scale,
        y_val=yt[va],
        raw_train=raw_tr,
        raw_val=raw_va,
        n_classes=n_classes,
        input_shape=tuple(shape),
        shift=shift,
        scale=scale,
        class_names=names,
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
    if d.n_features <= 2:
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
