"""Epoch checkpoints: save the model after every epoch so that any epoch, the best one above all,
can be restored and inspected afterwards. Storage stays bounded: past `max_keep` checkpoints, or past
`max_bytes` of them, the older ones are thinned (`thin`, the rule the stored views follow too) to
every 2nd, 4th, ... epoch, while epoch 0, the pinned ones (the best) and the latest stay.

A holder that keeps the checkpoints elsewhere (the server writes them to SQLite) may `release` them:
the epoch stays listed, its tensors leave memory, and only the pinned and latest states are kept."""

from __future__ import annotations

from collections.abc import Collection

import torch


def thin(epochs: Collection[int], capacity: int, stride: int = 1, keep: Collection[int] = ()) -> tuple[int, set[int]]:
    """The one rule that bounds what a run keeps per epoch (checkpoints here, histogram and surface
    views in the server's store). Returns (the new stride, the epochs to drop).

    While at most `capacity` epochs are kept nothing goes, so the stride only grows when needed.
    Past it, the epochs that are not multiples of `stride` go, except those in `keep` (the first,
    the pinned ones such as the best, the latest); while more than `capacity` remain and one of them
    could still go, the stride doubles and the sweep repeats. What stays is every stride-th epoch
    (stride 1, 2, 4, ...), spread evenly over the whole run, plus `keep` and the epochs added since
    the last thinning. `stride` is the one the previous call returned (1 at first)."""
    if len(epochs) <= capacity:
        return stride, set()
    left, dropped = set(epochs), set()

    def sweep() -> None:
        off = {e for e in left if e % stride and e not in keep}
        left.difference_update(off)
        dropped.update(off)

    sweep()
    while len(left) > capacity and len(left) > len(left.intersection(keep)):
        stride *= 2
        sweep()
    return stride, dropped


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def state_size(state: dict[str, torch.Tensor]) -> int:
    """Bytes of the tensors of a state dict."""
    return sum(t.numel() * t.element_size() for t in state.values())


class CheckpointStore:
    def __init__(self, max_keep: int = 400, max_bytes: int = 0):
        self.max_keep = max(2, max_keep)
        self.max_bytes = max_bytes  # bytes of all kept checkpoints together; 0 = only max_keep counts
        self.size = 0  # bytes of one checkpoint (the same model every epoch)
        self.stride = 1
        self.states: dict[int, dict[str, torch.Tensor] | None] = {}  # None = released to its holder
        self.roles: dict[str, int] = {"initial": 0}  # epochs that thinning must keep, by why
        self.latest: int | None = None

    def save(self, epoch: int, model: torch.nn.Module, state: dict[str, torch.Tensor] | None = None) -> None:
        """Keep `epoch`'s weights: `state`, a snapshot already taken (a sweep copies its stacked variants'
        weights at once), or else a snapshot of `model`."""
        state = snapshot(model) if state is None else state
        self.size = state_size(state)
        self.states[epoch] = state
        self.latest = epoch
        self._thin(latest=epoch)

    def capacity(self) -> int:
        """How many checkpoints may be kept: `max_keep`, fewer when `max_bytes` allows fewer, never
        fewer than the pinned ones and the latest (a model larger than the budget keeps just those)."""
        if not self.max_bytes or not self.size:
            return self.max_keep
        return max(len(set(self.roles.values())) + 1, min(self.max_keep, self.max_bytes // self.size))

    def pin(self, role: str, epoch: int) -> None:
        """Keep `epoch` whatever the thinning, as the holder of `role` (e.g. the best so far); the
        epoch that held the role before is released."""
        self.roles[role] = epoch

    def _thin(self, latest: int) -> None:
        self.stride, dropped = thin(self.states, self.capacity(), self.stride, {*self.roles.values(), latest})
        for e in dropped:
            del self.states[e]

    def release(self, epochs) -> None:
        """Drop the tensors of these epochs from memory (their holder keeps them); the pinned and the
        latest epoch stay, since training may restore them."""
        keep = {*self.roles.values(), self.latest}
        for e in epochs:
            if e in self.states and e not in keep:
                self.states[e] = None

    def epochs(self) -> list[int]:
        return sorted(self.states)

    def nearest(self, epoch: int) -> int:
        """The stored epoch closest to (and not after, when possible) the one asked for."""
        kept = self.epochs()
        before = [e for e in kept if e <= epoch]
        return before[-1] if before else kept[0]

    def get(self, epoch: int) -> dict[str, torch.Tensor]:
        state = self.states[epoch]
        if state is None:
            raise KeyError(f"the checkpoint of epoch {epoch} was released to its holder")
        return state

    def load_into(self, model: torch.nn.Module, epoch: int) -> None:
        model.load_state_dict(self.get(epoch))
