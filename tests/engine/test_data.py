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
    torch.testing.assert_close(d.x_train.std(0), torch.ones(13), atol=1e-4, rtol=0)
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
