"""The checkpoint store's bounds: a count and a byte budget, kept epochs spread over the whole run,
pinned ones never thinned, and released states out of memory but still listed."""

from __future__ import annotations

import pytest
import torch
from nnplayground.engine.checkpoints import CheckpointStore, state_size, thin


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


def test_thin_keeps_first_pinned_latest_and_every_stride_th_epoch():
    # at or under capacity nothing goes and the stride stays
    assert thin(range(10), capacity=10) == (1, set())
    # 0..20 with capacity 8: stride 2 leaves 11, stride 4 leaves 0,4,...,20 (6) plus the pinned 7
    stride, dropped = thin(range(21), capacity=8, keep={0, 7, 20})
    assert stride == 4
    assert set(range(21)) - dropped == {0, 4, 7, 8, 12, 16, 20}
    # the stride only grows: epochs added since the last thinning go off the same stride first
    kept = (set(range(21)) - dropped) | {21, 22, 23, 24}
    stride, dropped = thin(kept, capacity=10, stride=stride, keep={0, 24})
    assert stride == 4 and dropped == {7, 21, 22, 23}
    # nothing but kept epochs left to drop: the stride stops growing even over capacity
    assert thin([0, 3, 5], capacity=1, keep={0, 3, 5}) == (1, set())


def test_thin_spreads_a_long_run_evenly():
    kept, stride = set(), 1
    for epoch in range(5000):
        kept.add(epoch)
        stride, dropped = thin(kept, capacity=50, stride=stride, keep={0, epoch})
        kept -= dropped
    assert len(kept) <= 50 and {0, 4999} <= kept
    assert all(any(lo <= e < lo + 500 for e in kept) for lo in range(0, 5000, 500)), sorted(kept)
