"""RunManager: the one object the web tier talks to. It validates and admits runs (limits, queue
bound), persists every event before it is shown to anyone, fans events out through the Hub and keeps
run statuses consistent. It reaches the workers only through an Executor."""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..engine.choices import DATASETS
from ..engine.config import ConfigError, RunConfig
from ..engine.status import ACTIONS
from ..jsonutil import dumps, raw_json
from .db import database_url
from .errors import Conflict, InvalidInput, NotFound, TooMany, field_error
from .executor import Executor, Failed, Job, QueueChanged, Started, StatusChanged, Step, mark_failed, step_parts
from .hub import Hub
from .settings import Settings
from .shared_state import QueuedAddresses, SharedState
from .store import ACTIVE, TERMINAL, Store, run_brief
from .stored import stored_config, stored_source  # noqa: F401  (stored_config: re-exported)

ALLOWED = ACTIONS


@dataclass
class Snapshot:
    text: str
    last_epoch: int | None
    terminal: bool


class RunManager:
    def __init__(self, settings: Settings, executor: Executor | None = None, shared: SharedState | None = None):
        """`shared`: the state shared by several web processes (redis_url set): admission then runs under
        its cross-process lock, and the queued runs' addresses and the paused runs' pause times are kept
        there; None = this process's own."""
        self.settings = settings
        self.shared = shared
        self.store = Store(database_url(settings), settings.keep_views, settings.wal_limit_bytes)
        if executor is None and settings.backend == "celery":
            from .celery_executor import CeleryExecutor

            executor = CeleryExecutor(settings, self.store)
        if executor is None:
            from .local import LocalExecutor

            cpu_trace = settings.trace_file + ".cpu" if settings.trace_file else ""
            executor = LocalExecutor(settings.workers, settings.slots_per_worker, settings.worker_nice, cpu_trace)
        self.executor = executor
        self.hub = Hub(settings.ws_buffer_frames, settings.ws_view_rate)
        self.hub.on_idle = self.executor.unfollow  # a run's last viewer here left (snapshot: follow)
        self.pids: dict[str, int] = {}
        self.gone: set[str] = set()
        self.start_paused: set[str] = set()  # queued runs paused before they started
        self.started_at = time.time()
        self.interrupted: list[str] = []
        self._trace = open(settings.trace_file, "a") if settings.trace_file else None  # noqa: SIM115
        self._admit = shared.admission_lock() if shared is not None else threading.Lock()
        self._workers_stopped = False
        # queued run -> the address that created it
        self.addresses = shared.queued_addresses() if shared is not None else QueuedAddresses()
        # paused run -> when it was paused
        self.paused_since = shared.paused_since() if shared is not None else {}

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self, loop=None) -> None:
        if loop is not None:
            self.hub.bind(loop)
        if self.executor.owns_runs:  # a distributed executor's runs belong to no web process
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
        if not self.executor.owns_runs:  # they go on in the workers; viewers reconnect to another process
            return []
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
        """A run as the API shows it. Listed (`full=False`) it reads only the stored brief, never the
        configuration, which a custom data set makes megabytes long."""
        if full or not row.get("brief"):
            config = json.loads(row["config"])
            info = json.loads(row["info"]) if row["info"] else None
            brief = run_brief(config)
        else:
            brief = json.loads(row["brief"])
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
            "dataset": brief["dataset"],
            "epochs": brief["epochs"],
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
            raise NotFound(f"no run with id {run_id!r}")
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
    def check_speed(self, speed: float | None, field: str) -> None:
        """0 means unthrottled; otherwise at least `min_speed` epochs/s (422 naming `field`). A tiny
        speed would make the worker wait for centuries (it overflowed the worker's wait)."""
        low = self.settings.min_speed
        if speed and speed < low:
            raise InvalidInput(
                f"invalid speed: {field} must be 0 (no throttle) or at least {low:g} epochs/s",
                [
                    {
                        "field": field,
                        "message": f"0 (no throttle) or at least {low:g} epochs per second",
                        "type": "speed_min",
                        "ctx": {"min": low},
                    }
                ],
            )

    def _check_cost(self, cfg: RunConfig, model_cfg: RunConfig) -> None:
        budget = self.settings.max_epoch_cost
        if not budget:
            return
        terms = epoch_cost(model_cfg)
        total = sum(terms.values())
        if total <= budget:
            return
        biggest = max(terms, key=terms.get)
        advice = {
            "training": ("training.batch_size", "raise training.batch_size, or use fewer samples or a smaller model"),
            "steps": ("training.batch_size", "raise training.batch_size (one optimizer step per batch)"),
            "evaluation": ("dataset.n_samples", "use fewer samples or a smaller model"),
            "probe": ("telemetry.probe_size", "lower telemetry.probe_size"),
            "view": (
                "telemetry.surface_resolution",
                "lower telemetry.surface_resolution or telemetry.mc_samples, or set telemetry.surface_every to 0",
            ),
        }[biggest]
        raise field_error(
            advice[0],
            f"one epoch would cost about {total:.3g} multiply-adds (most of it {biggest}: {terms[biggest]:.3g}); "
            f"at most {budget:.3g} on this server: {advice[1]}",
            "epoch_cost",
            {
                "total": f"{total:.3g}",
                "part": biggest,
                "part_cost": f"{terms[biggest]:.3g}",
                "budget": f"{budget:.3g}",
                "advice": biggest,
            },
        )

    def _check_limits(self, cfg: RunConfig) -> tuple[dict, bytes] | None:
        """Everything admission decides from the configuration alone, before the run is queued (the
        server's bounds, the device, the transfer source, the engine's whole-config rules, model size and
        epoch cost): InvalidInput naming the field. Returns the stored run a transfer starts from, as
        (its effective config, weights blob), or None."""
        from ..engine import datasets

        self._check_bounds(cfg)
        model_cfg, src_config, source = cfg, None, None
        if cfg.transfer is not None:
            model_cfg, src_config, source = self._transfer_source(cfg)
        try:  # the same whole-config rules the engine applies, decided before the run is queued
            datasets.check_trainable(model_cfg, source_config=src_config)
        except ConfigError as e:
            raise field_error(e.field, e.message, e.code, e.ctx) from None
        n_params = count_params(model_cfg)
        if n_params > self.settings.max_params:
            raise field_error(
                "model.hidden",
                f"the model has {n_params} parameters; at most {self.settings.max_params} here",
                "max_params",
                {"n": n_params, "max": self.settings.max_params},
            )
        self._check_cost(cfg, model_cfg)
        return source

    def _check_bounds(self, cfg: RunConfig) -> None:
        """This server's bounds on epochs and data size, and a device it has."""
        from ..engine.trainer import resolve_device

        s = self.settings
        if cfg.training.epochs > s.max_epochs:
            raise field_error(
                "training.epochs", f"at most {s.max_epochs} epochs on this server", "max_epochs", {"max": s.max_epochs}
            )
        if cfg.dataset.n_samples > s.max_dataset_size:
            raise field_error(
                "dataset.n_samples",
                f"at most {s.max_dataset_size} samples on this server",
                "max_samples",
                {"max": s.max_dataset_size},
            )
        if cfg.dataset.points is not None and len(cfg.dataset.points) > s.max_dataset_size:
            raise field_error(
                "dataset.points",
                f"at most {s.max_dataset_size} rows on this server",
                "max_rows",
                {"max": s.max_dataset_size},
            )
        try:
            resolve_device(cfg.training.device)
        except ValueError as e:
            raise field_error(
                "training.device", str(e).split(": ", 1)[-1], "device_unavailable", {"device": cfg.training.device}
            ) from None

    def _transfer_source(self, cfg: RunConfig) -> tuple[RunConfig, dict, tuple[dict, bytes] | None]:
        """For a transfer run: (the config with the source's architecture adopted, the source's config,
        the stored source run as (config, weights blob), or None for a built-in source)."""
        from ..engine import transfer

        src = cfg.transfer.source
        source = None
        if src.startswith("builtin:"):
            if src != transfer.BUILTIN_DIGITS:
                raise field_error(
                    "transfer.source", f"unknown built-in source {src!r}", "unknown_builtin", {"source": src}
                )
            src_config = transfer.BUILTIN_CONFIG
        else:
            source = self._stored_source(src, cfg.transfer.epoch)
            src_config = source[0]
        try:
            model_cfg = transfer.adopt_architecture(cfg, src_config)
        except ConfigError as e:
            raise field_error(e.field, e.message, e.code, e.ctx) from None
        except ValueError as e:
            raise field_error("transfer.source", str(e), "source_incompatible", {"source": src}) from None
        return model_cfg, src_config, source

    def _stored_source(self, src: str, epoch: int | None) -> tuple[dict, bytes]:
        return stored_source(self.store, src, epoch)

    def check_admission(self, client: str, address: str) -> int:
        """The per-client, queue, storage and per-address bounds a new job must pass (TooMany naming the
        limit); called under `_admit`. Returns how many jobs wait for a worker now."""
        if self.store.count_active(client) >= self.settings.max_runs_per_client:
            raise TooMany(
                f"this client already has {self.settings.max_runs_per_client} active runs "
                "(the limit); stop or wait for one of them",
            )
        self.executor.refresh_queue()  # another process may have queued a run within the cache's life
        positions = self.executor.positions()
        queued = len(positions)
        full = not self.executor.has_capacity()
        if full and queued >= self.settings.queue_bound:
            raise TooMany(
                f"the server is busy: {queued} runs are already waiting (the limit); try again shortly",
            )
        stored = self.store.client_storage(client)
        if stored >= self.settings.max_client_storage_bytes:
            raise TooMany(
                f"this client's runs already keep {stored >> 20} MiB of checkpoints and models (the limit is "
                f"{self.settings.max_client_storage_bytes >> 20} MiB); delete old runs to start new ones",
            )
        per_address = self.settings.max_queued_per_address
        if full and per_address and address:
            mine = self.addresses.count(positions, address)
            if mine >= per_address:
                raise TooMany(
                    f"{mine} runs from your network address are already waiting for a worker "
                    f"(the limit is {per_address}); try again when one has started",
                )
        return queued

    def admit(self, client: str, address: str, check: Callable[[], None] | None, insert: Callable[[], Job]) -> int:
        """One admission: under the admission lock the caller's `check`, `check_admission`, then `insert`
        (stores the queued rows, returns their job); the job is submitted under the lock, or after its
        release where the queue is read from the store (`Executor.queue_in_store`: the rows count for the
        next admission already). Returns the job's queue position (0: it went straight to a worker)."""
        with self._admit:
            if check is not None:
                check()
            self.check_admission(client, address)
            job = insert()
            if not self.executor.queue_in_store:
                return self.executor.submit(job)
        return self.executor.submit(job)

    def create(
        self,
        cfg: RunConfig,
        client: str = "",
        speed: float = 0.0,
        paused: bool = False,
        address: str = "",
        check: Callable[[], None] | None = None,
    ) -> dict:
        """Admit and queue a run. `check`: the caller's own bounds (api/admission.py: per-client
        training and waiting runs), run under the same admission lock as check_admission so that
        concurrent requests (from any web process, with shared state) cannot both pass them."""
        self.check_speed(speed, "query.speed")
        source = self._check_limits(cfg)
        run_id = secrets.token_hex(6)

        def insert() -> Job:
            if address:
                self.addresses[run_id] = address
            config = cfg.model_dump(mode="json")
            self.store.insert_run(run_id, dumps(config), client, speed, dumps(run_brief(config)))
            return Job(run_id, config, source, speed, paused, self.settings.max_checkpoint_bytes)

        position = self.admit(client, address, check, insert)
        out = self.run(run_id)
        if out["status"] == "queued":
            out["position"] = position or None
        self.hub.announce(dumps({"type": "run_created", "run": self.resource(self.get(run_id), full=False)}))
        return out

    # ---- control --------------------------------------------------------------------------------
    def control(self, run_id: str, action: str, value: float | None = None, reason: str | None = None) -> dict:
        """`value`: epochs/s for speed. `reason`: for stop, the run's message (default: stopped by the
        user); the server's own caps and the teacher say why they stopped a run."""
        if action == "speed":
            self.check_speed(value, "epochs_per_second")
        row = self.get(run_id)
        status = row["status"]
        if status not in ALLOWED[action]:
            self.paused_since.pop(run_id, None)
            raise Conflict(f"cannot {action} a run that is {status}")
        if action == "speed":
            self.store.update_run(run_id, speed=value or 0.0)
            self.executor.control(run_id, "speed", value)
        elif action == "stop":
            self._stop(run_id, status, reason)
        elif action in ("pause", "resume") and status == "queued":
            self._control_queued(run_id, action)
        elif action in ("pause", "resume"):
            self._pause_or_resume(run_id, action)
        elif action == "step":
            self.executor.control(run_id, "step")
        out = self.run(run_id)
        out["requested"] = action
        return out

    def _stop(self, run_id: str, status: str, reason: str | None) -> None:
        """Stop a queued or active run; `reason` becomes its message."""
        if status == "queued":
            self.start_paused.discard(run_id)
            self.executor.control(run_id, "stop")
            if self.store.update_run(
                run_id,
                only_if=("queued",),
                status="stopped",
                finished_at=time.time(),
                message=reason or "stopped before it started",
            ):
                self._status(run_id, "stopped")
        elif not self.executor.control(run_id, "stop", reason):  # the executor lost it: settle it here
            self.store.update_run(
                run_id, only_if=ACTIVE, status="stopped", finished_at=time.time(), message=reason or ""
            )
            self._status(run_id, "stopped")

    def _pause_or_resume(self, run_id: str, action: str) -> None:
        """Pause a running run or resume a paused one; a run that changed meanwhile is left as it is."""
        before, after = ("running", "paused") if action == "pause" else ("paused", "running")
        if self.store.update_run(run_id, only_if=(before,), status=after):
            self.executor.control(run_id, action)
            self._status(run_id, after)

    def _control_queued(self, run_id: str, action: str) -> None:
        """Pause or resume a run still waiting for a worker: it starts paused (after epoch 0) or not.
        Started is handled on the executor's thread, so a run that started meanwhile is settled here."""
        if action == "resume" and run_id not in self.start_paused:
            raise Conflict("cannot resume a run that is queued and not paused")
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
        self._forget(run_id)
        self.hub.close_run(run_id, dumps({"type": "deleted", "id": run_id}))
        self.hub.announce(dumps({"type": "run_deleted", "id": run_id}))
        return {"id": run_id, "deleted": True}

    def active_runs(self, client: str) -> list[str]:
        """Ids of a client's queued, running and paused runs."""
        return [r["id"] for st in ACTIVE for r in self.store.list_runs(st, 10_000, 0, client)[0]]

    def waiting(self, client: str) -> int:
        """A client's runs waiting for a worker. A run keeps `queued` in the store until its worker
        reports it started; one already handed to a worker is not waiting. With shared state (several
        web processes) the store alone: this process's executor knows only the runs it was handed."""
        if self.shared is not None:
            return self.store.active_counts(client).get("queued", 0)
        positions = self.executor.positions()
        return sum(1 for r in self.store.list_runs("queued", 10_000, 0, client)[0] if r["id"] in positions)

    def _forget(self, run_id: str) -> None:
        self.paused_since.pop(run_id, None)
        self.addresses.pop(run_id, None)

    def edit_weight(self, run_id: str, layer: str, index: list[int], value: float) -> dict:
        """Set one weight ([unit, input]) or bias ([unit]) of a paused run's model (engine
        Trainer.edit_weight, between epochs in its worker); recorded as a `weight_edit` marker and kept
        in the epoch's checkpoint. Conflict unless paused; InvalidInput naming `layer`/`index`/`value`."""
        from ..engine import models
        from .errors import Conflict, InvalidInput

        row = self.get(run_id)
        if row["status"] != "paused":
            raise Conflict(f"weights are edited while the run is paused; run {run_id} is {row['status']}")
        cfg = stored_config(row, effective=bool(row["info"]))
        n_out = DATASETS[cfg.dataset.name].n_out(cfg.dataset)
        model = models.build(cfg.model, cfg.input_shape(), n_out, cfg.uses_cnn())
        errors = models.weight_edit_errors(model, layer, index, value)
        if errors:
            raise InvalidInput("invalid weight edit", errors)
        edit = {"layer": layer, "index": list(index), "value": float(value)}
        if not self.executor.control(run_id, "weights", edit):
            raise Conflict(f"run {run_id} is not held by a worker now")
        return {"id": run_id, **edit}

    def paused_longer_than(self, seconds: float) -> list[str]:
        limit = time.time() - seconds
        return [r for r, t in list(self.paused_since.items()) if t < limit]

    def _status(self, run_id: str, status: str, position: int | None = None) -> None:
        if status == "paused":
            self.paused_since.setdefault(run_id, time.time())
        else:
            self.paused_since.pop(run_id, None)
        if status != "queued":
            self.addresses.pop(run_id, None)
        text = dumps({"type": "status", "id": run_id, "status": status, "position": position})
        self.hub.publish(run_id, [("status", text, None, None)])
        self.hub.announce(text, status_of=run_id)

    # ---- websocket snapshots --------------------------------------------------------------------
    def snapshot(self, run_id: str, since: int | None = None) -> Snapshot | None:
        """A viewer's first frame, read from the store. The executor follows the run from before the read
        (the viewer joined the hub first): no later step is missed, and the viewer drops the epochs this
        snapshot has (Subscriber.release)."""
        self.executor.follow(run_id)
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
        text = dumps(  # the stored texts are already JSON: embedded as fragments, never parsed again
            {
                "type": "snapshot",
                "run": self.resource(row),
                "since": since,
                "thinned": thinned,
                "thinned_views": thinned_views,
                "epochs": [raw_json(t) for _, t in records],
                "markers": [raw_json(t) for t in markers],
                "histograms": [raw_json(t) for t in hist],
                "surfaces": [raw_json(t) for t in surf],
            }
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
        elif isinstance(msg, StatusChanged):
            self._status(msg.run_id, msg.status)
        elif isinstance(msg, QueueChanged):
            for run_id, pos in msg.positions.items():
                self._status(run_id, "queued", pos)

    def _on_started(self, msg: Started) -> None:
        if msg.run_id in self.gone:
            return
        status = "paused" if msg.paused or msg.run_id in self.start_paused else "running"
        self.start_paused.discard(msg.run_id)
        self.pids[msg.run_id] = msg.pid
        if msg.stored:  # the worker claimed it: the store holds its status already
            self._status(msg.run_id, "paused" if msg.paused else "running")
        elif self.store.update_run(msg.run_id, only_if=("queued",), status=status, started_at=time.time()):
            self._status(msg.run_id, status)

    def _on_step(self, msg: Step) -> None:
        run_id = msg.run_id
        if run_id in self.gone:
            return
        end, info, last = step_parts(msg.write)
        if not msg.stored and not self.store.apply_step(run_id, msg.write, end, info):
            return
        if self._trace is not None:
            for ev in msg.write.events:
                if ev.type == "epoch":
                    self._trace.write(f"{run_id} {ev.epoch} {msg.emitted_at:.6f}\n")
            self._trace.flush()
        # an epoch frame carries its own epoch (a viewer drops those its snapshot has), the others the step's
        items = [(ev.type, ev.text, ev.record, ev.epoch if ev.type == "epoch" else last) for ev in msg.write.events]
        self.hub.publish(run_id, items)
        if end is not None:
            self.pids.pop(run_id, None)
            self._forget(run_id)
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
        self._forget(run_id)
        if msg.stored:  # marked failed in the store by whoever noticed first: every process tells its viewers
            row = self.store.get_run(run_id)
            if row is None or row["status"] != "failed":
                return
            message = row["message"] or msg.message
            summary = json.loads(row["summary"]) if row["summary"] else {"status": "failed", "message": message}
        else:
            message = msg.message
            summary = mark_failed(self.store, run_id, message)
            if summary is None:
                return
        end = dumps({"type": "run_end", "status": "failed", "summary": summary, "message": message})
        self.hub.publish(run_id, [("run_end", end, None, None)])
        self.hub.announce(
            dumps({"type": "status", "id": run_id, "status": "failed", "position": None}), status_of=run_id
        )


STEP_COST = 2_000_000
"""Multiply-adds one optimizer step costs beyond its arithmetic (Python, autograd and optimizer
overhead; calibrated on this project's machine, README, Performance): what makes batch size 1 on 20,000
samples slow."""


def epoch_cost(cfg: RunConfig) -> dict[str, float]:
    """The estimated cost of one epoch in multiply-adds, by term (documented in docs/architecture.md):

        training    3 · n_train · m           forward + backward, m = multiply-adds of one forward pass
        steps       ceil(n_train / batch) · STEP_COST
        evaluation  (n_train + n_val) · m     both splits, every epoch
        probe       probe_size · m            telemetry's probe batch (when telemetry is on)
        view        points · m · (1 + mc)     decision surface (resolution²) or curve (200 points),
                                              with the MC-dropout passes, on an epoch that draws it

    Worst epoch, not an average: a view drawn every 10 epochs still costs what it costs then."""
    d, t, tel = cfg.dataset, cfg.training, cfg.telemetry
    n = len(d.points) if d.name == "custom" and d.points else d.n_samples
    n = min(n, DATASETS[d.name].size or n)
    n_val = max(1, round(n * d.val_fraction))
    n_train = max(1, n - n_val)
    m = _figures(cfg)[1]
    steps = -(-n_train // min(t.batch_size, n_train))
    terms = {
        "training": 3.0 * n_train * m,
        "steps": float(steps * STEP_COST),
        "evaluation": float((n_train + n_val) * m),
        "probe": float(min(tel.probe_size, n_train) * m) if tel.enabled else 0.0,
        "view": 0.0,
    }
    if tel.surface_every:
        dropout = cfg.model.dropout > 0 or any(p > 0 for p in (cfg.model.dropouts or []))
        mc = tel.mc_samples if dropout and tel.mc_samples > 1 else 0
        choice = DATASETS[d.name]
        plane = choice.input_shape(d) == (2,)  # a custom data set with two features too
        points = tel.surface_resolution**2 if plane else 200 if choice.task == "regression" else 48
        terms["view"] = float(points * m * (1 + mc))
    return terms


def count_params(cfg: RunConfig) -> int:
    """Parameters of the model this config builds, without loading its data."""
    return _figures(cfg)[0]


def _figures(cfg: RunConfig) -> tuple[int, int]:
    """(parameters, multiply-adds of one forward pass of one sample) of the model `cfg` builds."""
    shape, n_out = cfg.input_shape(), DATASETS[cfg.dataset.name].n_out(cfg.dataset)
    return _count(cfg.model.model_dump_json(), shape, n_out, cfg.uses_cnn())


@functools.lru_cache(maxsize=512)
def _count(model_json: str, shape: tuple, n_out: int, cnn: bool) -> tuple[int, int]:
    """Cached: a class starting runs mostly asks about the same few models. The multiply-adds are
    counted on one forward pass of one zero sample: a linear layer's weights once, a convolution's
    once per output position."""
    import torch

    from ..engine import models
    from ..engine.config import ModelConfig

    model = models.build(ModelConfig.model_validate_json(model_json), shape, n_out, cnn)
    macs = 0

    def count(module, _inputs, out):
        nonlocal macs
        w = module.weight.numel()
        macs += w * (out.shape[-1] * out.shape[-2] if isinstance(module, torch.nn.Conv2d) else 1)

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)]
    hooks = [m.register_forward_hook(count) for m in layers]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return models.count_params(model), macs
