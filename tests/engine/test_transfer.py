import pytest
import torch
from nnplayground.engine import Trainer
from nnplayground.engine.trainer import builtin_source

from .helpers import cfg

TARGET = dict(
    dataset={"name": "digits", "classes": [5, 6, 7, 8, 9], "per_class": 5, "val_fraction": 0.5},
    optimizer={"name": "adam", "lr": 0.01},
    training={"epochs": 25, "batch_size": 25},
)


def _transfer(strategy, **kw):
    return Trainer(cfg(**TARGET, transfer={"source": "builtin:digits-0-4", "strategy": strategy, **kw}))


def test_builtin_source_is_deterministic_and_good_on_its_task():
    config, state = builtin_source()
    config2, state2 = builtin_source()  # second call reads the cache
    assert config == config2 and all(torch.equal(state[k], state2[k]) for k in state)
    src = Trainer(cfg(dataset=config["dataset"], model=config["model"], training={"epochs": 1}))
    src.model.load_state_dict(state)
    src.model.eval()
    _, acc = src._evaluate(src.x_val, src.y_val)
    assert acc > 0.95


def test_freeze_features_leaves_frozen_layers_bit_identical():
    t = _transfer("freeze_features")
    _, state = builtin_source()
    assert t.frozen == {"conv1", "conv2"}
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    for k in before:
        if k.startswith("blocks.conv"):
            assert torch.equal(before[k], state[k])  # copied from the source
    list(t)
    after = t.model.state_dict()
    for k in before:
        if k.startswith("blocks.conv"):
            assert torch.equal(before[k], after[k]), f"{k} changed although frozen"
        elif k.endswith("weight") and "bn" not in k:
            assert not torch.equal(before[k], after[k]), f"{k} did not train"


def test_finetune_last_k_and_feature_lr_scale():
    t = _transfer("finetune_last_k", k=2)
    assert t.frozen == {"conv1", "conv2"} and all(p.requires_grad for p in t.model.out.parameters())
    t = _transfer("finetune_last_k", k=1)
    assert t.frozen == {"conv1", "conv2", "fc1"}
    t = _transfer("finetune_all", feature_lr_scale=0.1)
    lrs = sorted({g["lr"] for g in t.optimizer.param_groups})
    assert lrs == pytest.approx([0.001, 0.01])
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_head_trained_on_frozen_source_features_learns_the_new_classes():
    t = _transfer("freeze_features")
    list(t)
    assert t.history[0]["val_acc"] < 0.4  # fresh output layer: about chance (0.2) at epoch 0
    assert t.history[-1]["val_acc"] > 0.65  # 25 images, only the head trained


def test_run_id_source_needs_a_loader_and_fitting_shapes():
    with pytest.raises(ValueError, match="transfer.source"):
        Trainer(cfg(transfer={"source": "abc123"}))
    src = Trainer(cfg(model={"hidden": [8, 8]}, training={"epochs": 2}))
    list(src)
    loader = {"r1": (src.config.model_dump(mode="json"), src.model.state_dict())}.__getitem__
    t = Trainer(cfg(dataset={"name": "circle"}, model={"hidden": [32]}, transfer={"source": "r1"}), loader)
    assert t.config.model.hidden == [8, 8]  # the target adopts the source's layers
    assert torch.equal(t.model.blocks["fc1"].layer.weight, src.model.blocks["fc1"].layer.weight)


def test_continue_resumes_a_run_from_one_of_its_epochs():
    src = Trainer(cfg(model={"hidden": [8, 8]}, training={"epochs": 6}))
    list(src)
    state5 = src.checkpoints.get(5)
    loader = {"r1": (src.config.model_dump(mode="json"), state5)}.__getitem__
    t = Trainer(
        cfg(model={"hidden": [8, 8]}, training={"epochs": 3}, transfer={"source": "r1", "strategy": "continue"}), loader
    )
    assert t.frozen == set()
    rec0 = next(e for e in t.start() if e["type"] == "epoch")
    # epoch 0 of the new run is epoch 5 of the source: the output layer came along too
    assert rec0["val_loss"] == src.history[5]["val_loss"]
