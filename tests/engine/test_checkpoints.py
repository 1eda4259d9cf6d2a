"""The checkpoint store's bounds: a count and a byte budget, kept epochs spread over the whole run,
pinned ones never thinned, and released states out of memory but still listed."""

from __future__ import annotations

import pytest
import torch
from nnplayground.engine.checkpoints import CheckpointStore, state_size


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(10, 10)  # 110 float32 values: 440 bytes a checkpoint


def test_a_byte_budget_thins_evenly_and_keeps_the_pinned_epochs():
    model = _model()
    store = CheckpointStore(max_keep=5000, max_bytes=440 * 20)
    for epoch in range(0, 1001):
        with torch.no_grad():
            model.weight.add_(0.001)
        store.save(epoch, model)
        if epoch == 123:
            store.pin("best_val_loss", 123)
    kept = store.epochs()
    assert state_size(store.get(0)) == 440
    assert len(kept) <= 20 and sum(state_size(store.get(e)) for e in kept) <= 440 * 20
    assert {0, 123, 1000} <= set(kept)
    # spread over the whole run, not bunched at its end: a kept epoch in every tenth of it
    assert all(any(lo <= e < lo + 100 for e in kept) for lo in range(0, 1000, 100)), kept


def test_a_count_bound_alone_still_applies():
    model = _model()
    store = CheckpointStore(max_keep=10)
    for epoch in range(61):
        store.save(epoch, model)
    assert len(store.epochs()) <= 10 and 0 in store.epochs() and 60 in store.epochs()


def test_released_states_leave_memory_but_stay_listed():
    model = _model()
    store = CheckpointStore(max_keep=100)
    for epoch in range(6):
        store.save(epoch, model)
    store.pin("best_val_loss", 2)
    store.release(store.epochs())
    assert store.epochs() == [0, 1, 2, 3, 4, 5]
    held = [e for e in store.epochs() if store.states[e] is not None]
    assert held == [0, 2, 5]  # initial, pinned best, latest
    with pytest.raises(KeyError, match="released"):
        store.get(3)
    store.load_into(model, 2)
