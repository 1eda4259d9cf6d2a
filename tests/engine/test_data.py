import math

import numpy as np
import pytest
import torch
from nnplayground.engine.augmentation import augment, preview
from nnplayground.engine.config import AugmentationConfig, DatasetConfig, PreprocessingConfig
from nnplayground.engine.datasets import load

from .helpers import cfg, run


@pytest.mark.parametrize("name", ["circle", "xor", "gauss", "spiral", "moons"])
def test_two_d_sets_are_balanced_binary_and_seeded(name):
    d = load(DatasetConfig(name=name, n_samples=300, seed=3), PreprocessingConfig())
    assert d.input_shape == (2,) and d.n_classes == 2 and d.task == "classification"
    assert len(d.y_train) + len(d.y_val) == 300
    assert abs(d.y_train.float().mean().item() - 0.5) < 0.1
    again = load(DatasetConfig(name=name, n_samples=300, seed=3), PreprocessingConfig())
    assert torch.equal(d.raw_train, again.raw_train)
    other = load(DatasetConfig(name=name, n_samples=300, seed=4), PreprocessingConfig())
    assert not torch.equal(d.raw_train, other.raw_train)


def test_standardization_uses_training_statistics_only():
    d = load(DatasetConfig(name="wine", val_fraction=0.3), PreprocessingConfig(standardize=True))
    torch.testing.assert_close(d.x_train.mean(0), torch.zeros(13), atol=1e-5, rtol=0)
    # the population standard deviation, as scikit-learn's StandardScaler
    torch.testing.assert_close(d.x_train.std(0, unbiased=False), torch.ones(13), atol=1e-5, rtol=0)
    # validation goes through the same (training) shift and scale, so it is not exactly centred
    assert d.x_val.mean(0).abs().max() > 1e-3
    torch.testing.assert_close(d.preprocess(d.raw_val), d.x_val)
    raw = load(DatasetConfig(name="wine"), PreprocessingConfig(standardize=False))
    assert raw.x_train.max() > 100  # proline in the hundreds: the scales really differ


def test_images_subtract_the_mean_without_dividing():
    d = load(DatasetConfig(name="digits"), PreprocessingConfig(standardize=True))
    assert d.input_shape == (1, 8, 8)
    torch.testing.assert_close(d.x_train.mean(0), torch.zeros(1, 8, 8), atol=1e-5, rtol=0)
    assert torch.equal(d.scale, torch.ones_like(d.scale))
    torch.testing.assert_close(d.x_train, d.raw_train - d.raw_train.mean(0, keepdim=True))


def test_digits_subset_and_per_class_cap():
    d = load(DatasetConfig(name="digits", classes=[5, 6, 7, 8, 9], per_class=5), PreprocessingConfig())
    assert d.n_classes == 5 and d.class_names == ["5", "6", "7", "8", "9"]
    assert torch.bincount(d.y_train).tolist() == [5] * 5
    assert len(d.y_val) > 300
    full = load(DatasetConfig(name="digits", val_fraction=0.2), PreprocessingConfig())
    assert len(full.y_train) + len(full.y_val) == 1797


def test_sine_is_regression_and_custom_points_are_relabelled():
    d = load(DatasetConfig(name="sine", n_samples=50), PreprocessingConfig())
    assert d.task == "regression" and d.n_classes == 1 and d.y_train.dtype == torch.float32
    pts = [[0, 0, 3], [1, 1, 3], [0, 1, 3], [5, 5, 7], [6, 5, 7], [5, 6, 7]]
    d = load(DatasetConfig(name="custom", points=pts, val_fraction=0.34), PreprocessingConfig())
    assert d.n_classes == 2 and d.class_names == ["3", "7"] and len(d.y_val) == 2


def test_custom_data_trains():
    pts = [[x, y, int(x > 0)] for x in range(-5, 6) for y in range(-3, 4) if x != 0]
    t, _ = run(cfg(dataset={"name": "custom", "points": pts}, training={"epochs": 40}))
    assert t.history[-1]["val_acc"] >= 0.95


def test_augmentation_preview_and_training_only():
    d = load(DatasetConfig(name="digits"), PreprocessingConfig())
    a = AugmentationConfig(rotation_deg=20, scale=0.1, shift=0.1, noise_std=0.05)
    p = preview(d.x_train[0], a, n=6)
    assert p.shape == (6, 1, 8, 8)
    assert not torch.allclose(p[0], p[1]) and not torch.allclose(p[0], d.x_train[0])
    # rotation alone keeps the image recognisably the same: high correlation with the original
    r = preview(d.x_train[0], AugmentationConfig(rotation_deg=10), n=4)
    corr = torch.corrcoef(torch.stack([d.x_train[0].flatten(), r[0].flatten()]))[0, 1]
    assert corr > 0.7
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(5, 2)
    assert augment(x, AugmentationConfig(), gen).abs().sum() == 0  # nothing asked, nothing changed
    assert augment(x, AugmentationConfig(noise_std=0.5), gen).std() == pytest.approx(0.5, rel=0.6)


def test_augmentation_changes_training_inputs_each_epoch_but_never_validation():
    from nnplayground.engine import Trainer

    t = Trainer(
        cfg(
            dataset={"name": "digits", "per_class": 10},
            augmentation={"rotation_deg": 15, "noise_std": 0.1},
            training={"epochs": 2, "batch_size": 1000},
        )
    )
    seen = []
    t.model.register_forward_pre_hook(lambda m, args: seen.append((m.training, args[0].detach().clone())))
    t.start()
    seen.clear()
    t.step()
    t.step()
    train_batches = [x for training, x in seen if training]
    eval_batches = [x for training, x in seen if not training]
    assert len(train_batches) == 2  # one full batch per epoch
    a, b = (x[x[:, 0, 0, 0].argsort()] for x in train_batches)
    assert not torch.allclose(a, b)  # fresh augmentation each epoch
    assert not any(torch.equal(x, t.x_train) for x in train_batches)
    assert any(torch.equal(x, t.x_val) for x in eval_batches)  # validation is never augmented
    assert any(torch.equal(x, t.x_train) for x in eval_batches)  # nor the clean training evaluation


# ---- issue 9 item 5: zero-variance columns; item 4: tiny training splits ----


def _constant_column_points(value=14.62):
    """120 rows [x, value, label]: x in [-1.59, -1] for class 0, in [1, 1.59] for class 1 (the issue's data)."""
    xs = np.linspace(1.0, 1.59, 60)
    return [[-x, value, 0] for x in xs] + [[x, value, 1] for x in xs]


def test_a_constant_column_standardizes_to_exactly_zero_and_the_run_learns():
    data_cfg = DatasetConfig(name="custom", points=_constant_column_points())
    d = load(data_cfg, PreprocessingConfig())
    assert torch.equal(d.x_train[:, 1], torch.zeros(len(d.y_train)))
    assert torch.equal(d.x_val[:, 1], torch.zeros(len(d.y_val)))
    assert d.scale[0, 1].item() == 1.0
    assert torch.equal(d.preprocess(torch.tensor([[0.5, 14.62]]))[:, 1], torch.zeros(1))

    def trained(points):
        t, _ = run(cfg(dataset={"name": "custom", "points": points}, model={"hidden": [8]}, training={"epochs": 10}))
        return t

    t = trained(_constant_column_points())
    assert t.history[-1]["val_acc"] == 1.0
    zeroed = trained(_constant_column_points(0.0))  # the same data with the column set to 0
    assert [h["val_loss"] for h in t.history] == [h["val_loss"] for h in zeroed.history]
    assert zeroed.history[-1]["val_acc"] == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_standardization_matches_scikit_learn(seed):
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = 40
    cols = [
        rng.normal(0, 1, n),  # ordinary
        np.full(n, 14.62),  # constant
        np.full(n, 1e30),  # huge constant
        rng.normal(0, 1e30, n),  # huge spread
        14.62 + rng.integers(0, 2, n) * np.spacing(np.float32(14.62)),  # one float32 step apart: not constant
        rng.normal(5e3, 1e-3, n),  # small spread on a large mean
    ]
    labels = np.arange(n) % 2
    points = np.column_stack([*cols, labels]).tolist()
    d = load(DatasetConfig(name="custom", points=points, seed=seed), PreprocessingConfig())
    raw = d.raw_train.double().numpy()
    ref = StandardScaler().fit(raw)
    np.testing.assert_allclose(d.shift[0].numpy(), ref.mean_, rtol=1e-12)
    np.testing.assert_array_equal(d.scale[0].numpy() == 1.0, ref.scale_ == 1.0)
    np.testing.assert_allclose(d.scale[0].numpy(), ref.scale_, rtol=1e-12)
    expected = ref.transform(raw).astype(np.float32)
    np.testing.assert_allclose(d.x_train.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert torch.isfinite(d.x_train).all() and torch.isfinite(d.x_val).all()
    assert (d.x_train[:, 1] == 0).all() and (d.x_train[:, 2] == 0).all()
    assert d.x_train[:, 4].abs().max().item() > 0.5  # a real (if tiny) difference is kept


def test_one_training_sample_standardizes_to_zeros_not_nan():
    d = load(DatasetConfig(name="sine", n_samples=10, val_fraction=0.9), PreprocessingConfig())
    assert len(d.y_train) == 1
    assert torch.equal(d.x_train, torch.zeros(1, 1)) and torch.equal(d.scale, torch.ones(1, 1, dtype=torch.float64))
    assert torch.isfinite(d.x_val).all()
    t, _ = run(cfg(dataset={"name": "sine", "n_samples": 10, "val_fraction": 0.9}, training={"epochs": 3}))
    assert t.status == "completed" and all(h["train_loss"] is not None for h in t.history)


def test_image_mean_is_computed_in_float64():
    d = load(DatasetConfig(name="digits", classes=[0, 1]), PreprocessingConfig())
    expected = d.raw_train.double().mean(0, keepdim=True)
    assert d.shift.dtype == torch.float64 and torch.equal(d.shift, expected)
    corner = d.raw_train[:, 0, 0, 0]  # the top-left pixel is blank in every digit: stays exactly 0
    assert torch.equal(corner, torch.zeros_like(corner)) and torch.equal(d.x_train[:, 0, 0, 0], corner)


def test_huge_custom_values_keep_finite_bounds_and_inputs():
    big = 3.0e38
    pts = [[big, -big, 0], [big * 0.9, -big, 0], [-big, big, 1], [-big * 0.9, big * 0.5, 1]] * 3
    d = load(DatasetConfig(name="custom", points=pts), PreprocessingConfig())
    assert torch.isfinite(d.x_train).all() and torch.isfinite(d.x_val).all()
    assert all(math.isfinite(v) for b in d.bounds() for v in b)


def test_a_split_batch_norm_cannot_train_is_refused_before_training():
    from nnplayground.engine import Trainer
    from nnplayground.engine.config import ConfigError
    from nnplayground.engine.datasets import check_trainable, split_sizes

    issue = {
        "dataset": {"name": "sine", "n_samples": 10, "val_fraction": 0.9},
        "preprocessing": {"standardize": False},
        "model": {"batch_norm": True},
        "training": {"epochs": 3},
    }
    with pytest.raises(ConfigError) as e:
        Trainer(issue)
    assert e.value.field == "dataset.val_fraction" and "leaves 1 of 10" in e.value.message
    c = cfg(**issue)
    assert split_sizes(c.dataset)[:2] == (1, 9)
    with pytest.raises(ConfigError):
        check_trainable(c)
    # two training samples are enough (the trainer drops a last batch of one)
    ok = cfg(**{**issue, "dataset": {"name": "sine", "n_samples": 20, "val_fraction": 0.9}})
    assert split_sizes(ok.dataset)[:2] == (2, 18)
    t, _ = run(ok)
    assert t.status == "completed"


@pytest.mark.parametrize(
    "dataset",
    [
        {"name": "spiral", "n_samples": 37, "val_fraction": 0.3},
        {"name": "xor", "n_samples": 11, "val_fraction": 0.9},
        {"name": "wine", "n_samples": 10, "val_fraction": 0.9, "seed": 4},
        {"name": "digits", "classes": [1, 7], "per_class": 1},
        {"name": "sine", "n_samples": 10, "val_fraction": 0.05},
        {"name": "custom", "points": [[0, 0], [1, 0], [2, 1], [3, 1], [4, 2], [5, 2]], "val_fraction": 0.9},
    ],
)
def test_split_sizes_match_the_loaded_data(dataset):
    from nnplayground.engine.datasets import split_sizes

    c = DatasetConfig(**dataset)
    d = load(c, PreprocessingConfig())
    assert split_sizes(c) == (len(d.y_train), len(d.y_val), d.input_shape, d.n_classes)
    assert len(d.y_train) >= 1 and len(d.y_val) >= 1


def test_adding_a_drawn_point_never_moves_an_existing_point_between_splits():
    """Issue 12 §4: each click re-split the whole custom set, so drawn points swapped between training dots
    and validation rings. The split is sequential: earlier points keep their side, per-class shares hold."""
    rng = np.random.default_rng(7)
    points = [[float(i), float(rng.normal()), i // 2] for i in range(4)]  # labels 0, 0, 1, 1
    before: dict[float, str] = {}
    for i in range(4, 80):
        points.append([float(i), round(float(rng.normal()), 3), int(rng.integers(0, 2))])
        d = load(DatasetConfig(name="custom", points=points, val_fraction=0.3, seed=i), PreprocessingConfig())
        side = {x[0]: "train" for x in d.raw_train.tolist()} | {x[0]: "val" for x in d.raw_val.tolist()}
        assert len(side) == len(points)
        assert all(side[k] == v for k, v in before.items()), f"a point changed sides when point {i} was added"
        before = side
        labels = np.array([p[2] for p in points])
        for c in np.unique(labels):  # the same per-class counts as the random split: round(share), >= 1 each side
            n = int((labels == c).sum())
            n_val = sum(side[p[0]] == "val" for p in points if p[2] == c)
            expect = 0 if n < 2 else min(max(1, round(n * 0.3)), n - 1)
            assert n_val == expect, (c, n, n_val)


def test_the_data_view_of_the_plane_keeps_two_coordinates_whatever_the_features():
    # the browser draws the view's raw points and picks the plane's output view by its input_shape:
    # three input features had made a circle look like tabular data (a confusion matrix, drawing off)
    from nnplayground.engine.datasets import view

    pre = PreprocessingConfig(features=["x1", "x2", "x1_squared"])
    v = view(DatasetConfig(name="circle", n_samples=100, seed=1), pre)
    assert v["input_shape"] == [2] and len(v["bounds"]) == 2
    assert all(len(p) == 4 for p in v["points"])
    assert load(DatasetConfig(name="circle", n_samples=100, seed=1), pre).input_shape == (3,)  # the model's
