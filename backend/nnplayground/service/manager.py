"""RunManager: the one object the web tier talks to. It validates and admits runs (limits, queue
bound), persists every event before it is shown to anyone, fans events out through the Hub and keeps
run statuses consistent. It reaches the workers only through an Executor."""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
from dataclasses import dataclass

from ..engine.config import RunConfig
from .executor import Executor, Failed, Job, QueueChanged, Started, Step
from .hub import Hub
from .jsonutil import dumps
from .settings import Settings
from .store import ACTIVE, TERMINAL, Store

ALLOWED = {
    "pause": ("running", "queued"),  # a queued run starts paused when it gets a worker
    "resume": ("paused", "queued"),  # queued: only one paused in the queue
    "step": ("paused",),
    "stop": ACTIVE,
    "speed": ACTIVE,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, detail: list | None = None):
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


def field_error(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid configuration", [{"field": field, "message": message}])


@dataclass
class Snapshot:
    text: str
    last_epoch: int | None
    terminal: bool


class RunManager:
    def __init__(self, settings: Settings, executor: Executor | None = None):
        self.settings = settings
        self.store = Store(settings.db_path, settings.keep_views)
        if executor is None:
            from .local import LocalExecutor

            executor = LocalExecutor(settings.workers, settings.slots_per_worker, settings.worker_nice)
        self.executor = executor
        self.hub = Hub(settings.ws_buffer_frames, settings.ws_view_rate)
        self.pids: dict[str, int] = {}
        self.gone: set[str] = set()
        self.start_paused: set[str] = set()  # queued runs paused before they started
        self.started_at = time.time()
        self.interrupted: list[str] = []
        self._trace = open(settings.trace_file, "a") if settings.trace_file else None  # noqa: SIM115
        self._admit = threading.Lock()
        self._workers_stopped = False

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self, loop=None) -> None:
        if loop is not None:
            self.hub.bind(loop)
        self.interrupted = self.store.mark_interrupted()
        self.executor.start(self._on_message)

    def stop_workers(self) -> None:
        if not self._workers_stopped:
            self._workers_stopped = True
            self.executor.shutdown()

    def interrupt_active(self) -> list[str]:
        """At shut-down: stop the workers, mark every active run `interrupted` and tell its viewers and
        the lobby with a final `status` frame (the sockets are closed with 1012 right after)."""
        self.stop_workers()
        ids = self.store.mark_interrupted()
        message = "the server stopped while this run was active"
        for run_id in ids:
            text = dumps(
                {"type": "status", "id": run_id, "status": "interrupted", "position": None, "message": message}
            )
            self.hub.publish(run_id, [("status", text, None, None)])
            self.hub.announce(text)
        return ids

    def stop(self) -> None:
        self.stop_workers()
        if self._trace:
            self._trace.close()
        self.store.close()

    # ---- queries --------------------------------------------------------------------------------
    def resource(self, row: dict, full: bool = True, positions: dict | None = None) -> dict:
        config = json.loads(row["config"])
        info = json.loads(row["info"]) if row["info"] else None
        if row["summary"]:
            summary = json.loads(row["summary"])
        else:
            summary = {
                "status": row["status"],
                "epochs_run": row["epochs_run"],
                "best_epoch": row["best_epoch"],
                "best_val_loss": row["best_val_loss"],
            }
        positions = self.executor.positions() if positions is None and row["status"] == "queued" else positions
        out = {
            "id": row["id"],
            "status": row["status"],
            "position": (positions or {}).get(row["id"]) if row["status"] == "queued" else None,
            "created_at": row["created_at"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
            "dataset": config["dataset"]["name"],
            "epochs": config["training"]["epochs"],
            "epochs_run": row["epochs_run"],
            "best_epoch": row["best_epoch"],
            "speed": row["speed"],
            "message": row["message"],
            "summary": summary,
        }
        if full:
            out["config"] = info["config"] if info else config
            out["submitted_config"] = config
            out["model"] = {k: info[k] for k in ("n_params", "layers", "dataset", "device", "frozen")} if info else None
            out["has_final_model"] = bool(row["has_final"])
            out["worker_pid"] = self.pids.get(row["id"])
        return out

    def get(self, run_id: str) -> dict:
        row = self.store.get_run(run_id)
        if row is None:
            raise ApiError(404, f"no run with id {run_id!r}")
        return row

    def run(self, run_id: str) -> dict:
        return self.resource(self.get(run_id))

    def list(self, status: str | None, limit: int, offset: int, client: str | None = None) -> dict:
        rows, total = self.store.list_runs(status, limit, offset, client)
        positions = self.executor.positions()
        return {
            "runs": [self.resource(r, full=False, positions=positions) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    def health(self) -> dict:
        ex = self.executor.stats()
        return {
            "status": "ok",
            "uptime_s": round(time.time() - self.started_at, 1),
            "workers": ex,
            "queue": {"length": ex.get("queued", 0), "bound": self.settings.queue_bound},
            "runs": self.store.counts(),
            "viewers": self.hub.viewers(),
            "limits": self.settings.limits(),
        }

    # ---- admission ------------------------------------------------------------------------------
    def _check_limits(self, cfg: RunConfig) -> tuple[dict, bytes] | None:
        from ..engine import transfer
        from ..engine.trainer import resolve_device

        s = self.settings
        if cfg.training.epochs > s.max_epochs:
            raise field_error("training.epochs", f"at most {s.max_epochs} epochs on this server")
        if cfg.dataset.n_samples > s.max_dataset_size:
            raise field_error("dataset.n_samples", f"at most {s.max_dataset_size} samples on this server")
        if cfg.dataset.points is not None and len(cfg.dataset.points) > s.max_dataset_size:
            raise field_error("dataset.points", f"at most {s.max_dataset_size} rows on this server")
        try:
            resolve_device(cfg.training.device)
        except ValueError as e:
            raise field_error("training.device", str(e).split(": ", 1)[-1]) from None
        source = None
        model_cfg = cfg
        if cfg.transfer is not None:
            src = cfg.transfer.source
            if src.startswith("builtin:"):
                if src != transfer.BUILTIN_DIGITS:
                    raise field_error("transfer.source", f"unknown built-in source {src!r}")
                src_config = transfer.BUILTIN_CONFIG
            else:
                row = self.store.get_run(src)
                if row is None:
                    raise field_error("transfer.source", f"no run with id {src!r}")
                if cfg.transfer.epoch is not None:  # "continue from this epoch"
                    kept = [e for e in self.store.checkpoint_epochs(src) if e <= cfg.transfer.epoch]
                    blob = self.store.checkpoint(src, kept[-1]) if kept else None
                else:
                    blob = self.store.final_state(src)
                if blob is None or not row["info"]:
                    raise field_error(
                        "transfer.source",
                        f"run {src!r} is {row['status']} and has no final model to start from",
                    )
                src_config = json.loads(row["info"])["config"]
                source = (src_config, blob)
            try:
                model_cfg = transfer.adopt_architecture(cfg, src_config)
            except ValueError as e:
                raise field_error("transfer.source", str(e)) from None
        n_params = count_params(model_cfg)
        if n_params > s.max_params:
            raise field_error("model.hidden", f"the model has {n_params} parameters; at most {s.max_params} here")
        return source

    def create(self, cfg: RunConfig, client: str = "", speed: float = 0.0, paused: bool = False) -> dict:
        source = self._check_limits(cfg)
        with self._admit:
            if self.store.count_active(client) >= self.settings.max_runs_per_client:
                raise ApiError(
                    429,
                    f"this client already has {self.settings.max_runs_per_client} active runs "
                    "(the limit); stop or wait for one of them",
                )
            queued = len(self.executor.positions())
            if not self.executor.has_capacity() and queued >= self.settings.queue_bound:
                raise ApiError(
                    429,
                    f"the server is busy: {queued} runs are already waiting (the limit); try again shortly",
                )
            run_id = secrets.token_hex(6)
            config = cfg.model_dump(mode="json")
            self.store.insert_run(run_id, dumps(config), client, speed)
            position = self.executor.submit(Job(run_id, config, source, speed, paused))
        out = self.run(run_id)
        if out["status"] == "queued":
            out["position"] = position or None
        self.hub.announce(dumps({"type": "run_created", "run": self.resource(self.get(run_id), full=False)}))
        return out

    # ---- control --------------------------------------------------------------------------------
    def control(self, run_id: str, action: str, value: float | None = None) -> dict:
        row = self.get(run_id)
        status = row["status"]
        if status not in ALLOWED[action]:
            raise ApiError(409, f"cannot {action} a run that is {status}")
        if action == "speed":
            self.store.update_run(run_id, speed=value or 0.0)
            self.executor.control(run_id, "speed", value)
        elif action == "stop" and status == "queued":
            self.start_paused.discard(run_id)
            self.executor.control(run_id, "stop")
            if self.store.update_run(
                run_id,
                only_if=("queued",),
                status="stopped",
                finished_at=time.time(),
                message="stopped before it started",
            ):
                self._status(run_id, "stopped")
        elif action == "stop":
            if not self.executor.control(run_id, "stop"):  # the executor lost it: settle it here
                self.store.update_run(run_id, only_if=ACTIVE, status="stopped", finished_at=time.time())
                self._status(run_id, "stopped")
        elif action in ("pause", "resume") and status == "queued":
            self._control_queued(run_id, action)
        elif action == "pause":
            if self.store.update_run(run_id, only_if=("running",), status="paused"):
                self.executor.control(run_id, "pause")
                self._status(run_id, "paused")
        elif action == "resume":
            if self.store.update_run(run_id, only_if=("paused",), status="running"):
                self.executor.control(run_id, "resume")
                self._status(run_id, "running")
        elif action == "step":
            self.executor.control(run_id, "step")
        out = self.run(run_id)
        out["requested"] = action
        return out

    def _control_queued(self, run_id: str, action: str) -> None:
        """Pause or resume a run still waiting for a worker: it starts paused (after epoch 0) or not.
        Started is handled on the executor's thread, so a run that started meanwhile is settled here."""
        if action == "resume" and run_id not in self.start_paused:
            raise ApiError(409, "cannot resume a run that is queued and not paused")
        if action == "pause":
            self.start_paused.add(run_id)
        else:
            self.start_paused.discard(run_id)
        self.executor.control(run_id, action)
        before, after = ("running", "paused") if action == "pause" else ("paused", "running")
        if self.store.update_run(run_id, only_if=(before,), status=after):  # it started meanwhile
            self._status(run_id, after)

    def delete(self, run_id: str) -> dict:
        row = self.get(run_id)
        self.gone.add(run_id)
        if row["status"] in ACTIVE:
            self.executor.control(run_id, "cancel")
        self.store.delete_run(run_id)
        self.pids.pop(run_id, None)
        self.hub.close_run(run_id, dumps({"type": "deleted", "id": run_id}))
        self.hub.announce(dumps({"type": "run_deleted", "id": run_id}))
        return {"id": run_id, "deleted": True}

    def _status(self, run_id: str, status: str, position: int | None = None) -> None:
        text = dumps({"type": "status", "id": run_id, "status": status, "position": position})
        self.hub.publish(run_id, [("status", text, None, None)])
        self.hub.announce(text, status_of=run_id)

    # ---- websocket snapshots --------------------------------------------------------------------
    def snapshot(self, run_id: str, since: int | None = None) -> Snapshot | None:
        with self.store.read_tx():
            row = self.store.get_run(run_id)
            if row is None:
                return None
            records = self.store.metrics(run_id, since)
            markers = self.store.markers(run_id, since)
            if since is None:
                hist = [t for t in [self.store.view(run_id, "histograms", None)] if t]
                surf = [t for t in [self.store.view(run_id, "surface", None)] if t]
            else:
                hist = [t for _, t in self.store.views_since(run_id, "histograms", since)]
                surf = [t for _, t in self.store.views_since(run_id, "surface", since)]
        last = records[-1][0] if records else since
        cap = self.settings.snapshot_max_epochs
        thinned = since is None and len(records) > cap
        if thinned:
            step = len(records) / (cap - 1)
            picked = sorted({int(i * step) for i in range(cap - 1)} | {len(records) - 1})
            records = [records[i] for i in picked]
        views_cap = 50
        thinned_views = len(hist) > views_cap or len(surf) > views_cap
        hist, surf = hist[-views_cap:], surf[-views_cap:]
        text = (
            '{"type":"snapshot","run":'
            + dumps(self.resource(row))
            + ',"since":'
            + dumps(since)
            + ',"thinned":'
            + dumps(thinned)
            + ',"thinned_views":'
            + dumps(thinned_views)
            + ',"epochs":['
            + ",".join(t for _, t in records)
            + '],"markers":['
            + ",".join(markers)
            + '],"histograms":['
            + ",".join(hist)
            + '],"surfaces":['
            + ",".join(surf)
            + "]}"
        )
        return Snapshot(text, last, row["status"] in TERMINAL)

    def lobby_snapshot(self, limit: int = 50) -> str:
        data = self.list(None, limit, 0)
        return dumps({"type": "runs", **data})

    # ---- executor messages (the executor's thread) ----------------------------------------------
    def _on_message(self, msg) -> None:
        if isinstance(msg, Started):
            self._on_started(msg)
        elif isinstance(msg, Step):
            self._on_step(msg)
        elif isinstance(msg, Failed):
            self._on_failed(msg)
        elif isinstance(msg, QueueChanged):
            for run_id, pos in msg.positions.items():
                self._status(run_id, "queued", pos)

    def _on_started(self, msg: Started) -> None:
        if msg.run_id in self.gone:
            return
        status = "paused" if msg.paused or msg.run_id in self.start_paused else "running"
        self.start_paused.discard(msg.run_id)
        self.pids[msg.run_id] = msg.pid
        if self.store.update_run(msg.run_id, only_if=("queued",), status=status, started_at=time.time()):
            self._status(msg.run_id, status)

    def _on_step(self, msg: Step) -> None:
        run_id = msg.run_id
        if run_id in self.gone:
            return
        end = info = None
        last = None
        for ev in msg.write.events:
            if ev.type == "run_start":
                info = ev.text
            elif ev.type == "run_end":
                e = json.loads(ev.text)
                end = {"status": e["status"], "summary": dumps(e["summary"]), "message": e["message"]}
            if ev.epoch is not None:
                last = ev.epoch if last is None else max(last, ev.epoch)
        if not self.store.apply_step(run_id, msg.write, end, info):
            return
        if self._trace is not None:
            for ev in msg.write.events:
                if ev.type == "epoch":
                    self._trace.write(f"{run_id} {ev.epoch} {msg.emitted_at:.6f}\n")
            self._trace.flush()
        self.hub.publish(run_id, [(ev.type, ev.text, ev.record, last) for ev in msg.write.events])
        if end is not None:
            self.pids.pop(run_id, None)
            self.hub.announce(
                dumps(
                    {
                        "type": "status",
                        "id": run_id,
                        "status": end["status"],
                        "position": None,
                        "summary": json.loads(end["summary"]),
                    }
                ),
                status_of=run_id,
            )

    def _on_failed(self, msg: Failed) -> None:
        run_id = msg.run_id
        if run_id in self.gone:
            return
        self.pids.pop(run_id, None)
        row = self.store.get_run(run_id)
        if row is None:
            return
        summary = {
            "status": "failed",
            "epochs_run": row["epochs_run"],
            "best_epoch": row["best_epoch"],
            "best_val_loss": row["best_val_loss"],
            "message": msg.message,
        }
        if self.store.update_run(
            run_id,
            only_if=ACTIVE,
            status="failed",
            message=msg.message,
            summary=dumps(summary),
            finished_at=time.time(),
        ):
            end = dumps({"type": "run_end", "status": "failed", "summary": summary, "message": msg.message})
            self.hub.publish(run_id, [("run_end", end, None, None)])
            self.hub.announce(
                dumps({"type": "status", "id": run_id, "status": "failed", "position": None}), status_of=run_id
            )


def count_params(cfg: RunConfig) -> int:
    """Parameters of the model this config builds, without loading its data."""
    from ..engine.config import TWO_D

    d = cfg.dataset
    if d.name in TWO_D:
        shape, n_out = (2,), 2
    elif d.name == "sine":
        shape, n_out = (1,), 1
    elif d.name == "wine":
        shape, n_out = (13,), 3
    elif d.name == "digits":
        shape, n_out = (1, 8, 8), len(d.classes) if d.classes else 10
    else:
        shape, n_out = (len(d.points[0]) - 1,), len({int(r[-1]) for r in d.points})
    return _count(cfg.model.model_dump_json(), shape, n_out, cfg.uses_cnn())


@functools.lru_cache(maxsize=512)
def _count(model_json: str, shape: tuple, n_out: int, cnn: bool) -> int:
    """Cached: a class starting runs mostly asks about the same few models."""
    from ..engine import models
    from ..engine.config import ModelConfig

    return models.count_params(models.build(ModelConfig.model_validate_json(model_json), shape, n_out, cnn))
