"""Models of stored runs, rebuilt in the web process for predictions and exports.

A run's model is rebuilt from its effective configuration (the one in its run_start event: a transfer
run has already adopted its source's layers, so the source is not needed again) and a checkpoint from
SQLite, read by `worker.load_state` without unpickling (safetensors, or the formats of earlier versions).
Rebuilt trainers are cached (they hold the data set's preprocessing statistics); the API calls these in its
thread pool, bounded by `api/heavy.py`, and one run's model serves one call at a time (its lock)."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections import OrderedDict

from ..engine import models
from ..jsonutil import dumps
from .errors import Conflict, InvalidInput, NotFound
from .manager import RunManager, stored_config
from .store import TERMINAL
from .worker import load_state, torch_bytes

EXPORT_FORMATS = ("state_dict", "torchscript", "json", "csv", "python")


class Models:
    def __init__(self, manager: RunManager, size: int = 8):
        self.manager = manager
        self.size = size
        self._cache: OrderedDict[str, tuple[object, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def _trainer(self, run_id: str, row: dict):
        from ..engine import Trainer

        with self._lock:
            hit = self._cache.get(run_id)
            if hit is not None:
                self._cache.move_to_end(run_id)
                return hit
        cfg = stored_config(row, effective=True).model_dump(mode="json")
        cfg["transfer"] = None  # the layers are already the source's; the weights come from a checkpoint
        cfg["training"]["device"] = "cpu"
        import torch

        torch.set_num_threads(1)
        trainer = Trainer(cfg)
        entry = (trainer, threading.Lock())
        with self._lock:
            self._cache[run_id] = entry
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return entry

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._cache.pop(run_id, None)

    def state(self, run_id: str, epoch: int | None) -> tuple[bytes, int | None]:
        """The stored weights: the final model (epoch None) or the checkpoint at `epoch`, else the
        nearest kept one before it. Returns (blob, epoch used; None = final model)."""
        store = self.manager.store
        row = self.manager.get(run_id)
        if epoch is None:
            blob = store.final_state(run_id)
            if blob is not None:
                return blob, None
            kept = store.checkpoint_epochs(run_id)
            if not kept:
                raise Conflict(f"run {run_id} has no model yet (it is {row['status']})")
            return store.checkpoint(run_id, kept[-1]), kept[-1]
        kept = store.checkpoint_epochs(run_id)
        if not kept:
            raise Conflict(f"run {run_id} has no checkpoints yet (it is {row['status']})")
        if epoch > row["epochs_run"] and row["status"] in TERMINAL:
            raise NotFound(f"run {run_id} ran {row['epochs_run']} epochs; there is no epoch {epoch}")
        before = [e for e in kept if e <= epoch]
        used = before[-1] if before else kept[0]
        return store.checkpoint(run_id, used), used

    def with_model(self, run_id: str, epoch: int | None, fn):
        row = self.manager.get(run_id)
        blob, used = self.state(run_id, epoch)
        trainer, lock = self._trainer(run_id, row)
        with lock:
            trainer.model.load_state_dict(load_state(blob))
            trainer.model.eval()
            return fn(trainer, used)

    # ---- predictions ----------------------------------------------------------------------------
    def predict(
        self, run_id: str, inputs: list[list[float]], mc_samples: int, epoch: int | None, knockout: list[dict] = ()
    ) -> dict:
        """Predictions of the final model or a checkpoint for raw inputs, with its validation loss and
        accuracy (R^2); `knockout` [{layer, unit}] switches those hidden units off for both."""

        def go(trainer, used):
            errors = models.knockout_errors(trainer.model, list(knockout))
            if errors:
                raise InvalidInput("invalid knockout", errors)
            units = [(u["layer"], u["unit"]) for u in knockout]
            width = trainer.data.raw_width
            for i, row in enumerate(inputs):
                if len(row) != width:
                    raise InvalidInput(
                        "invalid inputs",
                        [
                            {
                                "field": f"inputs.{i}",
                                "message": f"expected {width} values per input, got {len(row)}",
                                "type": "inputs_width",
                                "ctx": {"width": width, "n": len(row)},
                            }
                        ],
                    )
            out = trainer.predict(inputs, mc_samples, knockout=units) if inputs else {"mean": [], "std": []}
            return {
                **out,
                **trainer.validation(units),
                "knockout": [{"layer": layer, "unit": unit} for layer, unit in units],
                "epoch": used,
                "task": trainer.data.task,
                "class_names": trainer.data.class_names,
            }

        return self.with_model(run_id, epoch, go)

    # ---- exports ----------------------------------------------------------------------------------
    def export(self, run_id: str, fmt: str, epoch: int | None) -> tuple[bytes, str, str, int | None]:
        """(body, media type, file name, epoch used)."""
        import torch

        if fmt == "csv":
            return metrics_csv(self.manager, run_id).encode(), "text/csv", f"run-{run_id}-metrics.csv", None
        if fmt == "python":
            from .scriptgen import script

            row = self.manager.get(run_id)
            if not row["info"]:
                raise Conflict(f"run {run_id} has not started yet (it is {row['status']})")
            text = script(run_id, stored_config(row, effective=True).model_dump(mode="json"))
            return text.encode(), "text/x-python", f"run-{run_id}.py", None
        if fmt == "state_dict":
            blob, used = self.state(run_id, epoch)
            return torch_bytes(blob), "application/octet-stream", f"run-{run_id}{_suffix(used)}.pt", used
        if fmt == "json":
            blob, used = self.state(run_id, epoch)
            state = load_state(blob)
            body = {"parameters": {k: v.tolist() for k, v in state.items()}, "epoch": used}
            return dumps(body).encode(), "application/json", f"run-{run_id}{_suffix(used)}.json", used

        def trace(trainer, used):
            model = trainer.model
            example = trainer.data.x_val[:1]
            traced = torch.jit.trace(model, example, check_trace=False)
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
            return buf.getvalue(), used

        blob, used = self.with_model(run_id, epoch, trace)
        return blob, "application/octet-stream", f"run-{run_id}{_suffix(used)}-torchscript.pt", used


def _suffix(epoch: int | None) -> str:
    return "" if epoch is None else f"-epoch{epoch}"


def _cell(v):
    """An empty cell for a missing or non-finite value (records written by older versions, or read
    back by a lenient parser, may hold NaN), as null in the JSON outputs."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return v


def metrics_csv(manager: RunManager, run_id: str) -> str:
    manager.get(run_id)
    rows = [json.loads(t) for _, t in manager.store.metrics(run_id)]
    columns: list[str] = []
    flat_rows = []
    for r in rows:
        flat = {}
        for k, v in r.items():
            if isinstance(v, dict):
                for layer, x in v.items():
                    flat[f"{k}.{layer}"] = x
            else:
                flat[k] = v
        for k in flat:
            if k not in columns:
                columns.append(k)
        flat_rows.append(flat)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns or ["epoch"], lineterminator="\n")
    w.writeheader()
    for flat in flat_rows:
        w.writerow({k: _cell(v) for k, v in flat.items()})
    return buf.getvalue()
