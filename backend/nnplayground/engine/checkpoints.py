"""Epoch checkpoints: save the model after every epoch so that any epoch, the best one above all,
can be restored and inspected afterwards. Memory stays bounded: past `max_keep` checkpoints the
older ones are thinned to every 2nd, 4th, ... epoch, while epoch 0, the best and the latest stay."""

from __future__ import annotations

import torch


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class CheckpointStore:
    def __init__(self, max_keep: int = 400):
        self.max_keep = max(2, max_keep)
        self.stride = 1
        self.states: dict[int, dict[str, torch.Tensor]] = {}
        self.roles: dict[str, int] = {"initial": 0}  # epochs that thinning must keep, by why

    def save(self, epoch: int, model: torch.nn.Module) -> None:
        self.states[epoch] = snapshot(model)
        if len(self.states) > self.max_keep:
            self._thin(latest=epoch)

    def pin(self, role: str, epoch: int) -> None:
        """Keep `epoch` whatever the thinning, as the holder of `role` (e.g. the best so far); the
        epoch that held the role before is released."""
        self.roles[role] = epoch

    def _thin(self, latest: int) -> None:
        keep = {*self.roles.values(), latest}
        while len(self.states) > self.max_keep and len(self.states) > len(keep & set(self.states)):
            self.stride *= 2
            for e in list(self.states):
                if e % self.stride and e not in keep:
                    del self.states[e]

    def epochs(self) -> list[int]:
        return sorted(self.states)

    def nearest(self, epoch: int) -> int:
        """The stored epoch closest to (and not after, when possible) the one asked for."""
        kept = self.epochs()
        before = [e for e in kept if e <= epoch]
        return before[-1] if before else kept[0]

    def get(self, epoch: int) -> dict[str, torch.Tensor]:
        return self.states[epoch]

    def load_into(self, model: torch.nn.Module, epoch: int) -> None:
        model.load_state_dict(self.states[epoch])
