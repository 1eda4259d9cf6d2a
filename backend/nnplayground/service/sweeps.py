"""Sweeps as a service: K variants of one run configuration (engine.sweep.expand) admitted as one job,
trained by one worker as one engine Sweep (stacked where the variants share architecture and data).

Each variant is an ordinary run row (its own id, metrics, views, checkpoints, exports, websocket): the
worker writes its events exactly as a lone run's, so everything the runs API does works for a variant.
The sweep's own record (the `sweeps` table) keeps the request and which run is which variant.

Admission (documented in docs/protocol.md, Sweeps):
- every variant passes the run limits (`RunManager._check_limits`: epochs, data size, parameters, the
  per-epoch cost estimate, ...), its errors named `vary.<path>` when an axis caused them, else `base.<path>`;
- the sweep's epoch, all variants together, must fit `max_epoch_cost` too: the variants' training,
  evaluation and telemetry terms add up, the per-step overhead is paid once per stacked step;
- the sweep is one job: it counts as one active run of its client (`max_runs_per_client`) and takes one
  worker slot; `max_sweep_variants` bounds its size."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

from ..engine.config import ConfigError, RunConfig
from ..engine.status import ACTIONS
from ..jsonutil import dumps
from .errors import Conflict, InvalidInput, NotFound, field_error
from .executor import Job
from .manager import RunManager, epoch_cost
from .store import run_brief

# What a sweep is while any variant is active: the most active status among its runs.
_ACTIVE_ORDER = ("running", "paused", "queued")


def _prefixed(e: InvalidInput, axes: list[str]) -> InvalidInput:
    """A variant's config error renamed to the request's path: `vary.<axis>` when the field is one the
    sweep varies (or inside it), else `base.<field>`."""

    def name(field: str) -> str:
        axis = next((a for a in axes if field == a or field.startswith(a + ".")), None)
        return f"vary.{axis}" if axis else f"base.{field}"

    detail = [{**d, "field": name(d["field"])} for d in (e.detail or [])]
    return InvalidInput(e.message, detail)


def sweep_status(statuses: list[str]) -> str:
    """running / paused / queued while any variant is (in that order of precedence); once every variant
    has ended, "finished" (each variant's own status says how)."""
    for s in _ACTIVE_ORDER:
        if s in statuses:
            return s
    return "finished"


class Sweeps:
    """The sweeps of one server; stateless over the manager (its store, executor, hub and lock)."""

    def __init__(self, manager: RunManager):
        self.mgr = manager
        self.store = manager.store
        self.settings = manager.settings

    # ---- admission ------------------------------------------------------------------------------
    def expand(self, base: dict, vary: dict, mode: str) -> list[tuple[dict, RunConfig]]:
        """The variants, each checked against the server's run limits (InvalidInput naming the path)."""
        from ..engine.sweep import expand

        try:
            variants = expand(base, vary, mode, limit=self.settings.max_sweep_variants)
        except ConfigError as e:
            raise field_error(e.field, e.message, e.code, e.ctx) from None
        if variants[0][1].transfer is not None:
            raise field_error(
                "base.transfer", "a sweep trains its variants from scratch; transfer is not allowed", "sweep_transfer"
            )
        axes = list(vary)
        for _, cfg in variants:
            try:
                self.mgr._check_limits(cfg)
            except InvalidInput as e:
                raise _prefixed(e, axes) from None
        self._check_cost([cfg for _, cfg in variants])
        return variants

    def _check_cost(self, cfgs: list[RunConfig]) -> None:
        budget = self.settings.max_epoch_cost
        if not budget:
            return
        terms = [epoch_cost(c) for c in cfgs]
        steps = max(t["steps"] for t in terms)  # one stacked step per batch serves every variant
        total = steps + sum(v for t in terms for k, v in t.items() if k != "steps")
        if total > budget:
            raise field_error(
                "vary",
                f"one epoch of all {len(cfgs)} variants would cost about {total:.3g} multiply-adds; at most "
                f"{budget:.3g} on this server: use fewer variants, fewer samples or a smaller model",
                "sweep_cost",
                {"n": len(cfgs), "total": f"{total:.3g}", "budget": f"{budget:.3g}"},
            )

    def create(
        self,
        base: dict,
        vary: dict,
        mode: str = "grid",
        client: str = "",
        speed: float = 0.0,
        paused: bool = False,
        address: str = "",
        check: Callable[[], None] | None = None,
    ) -> dict:
        """Admit a sweep: its variants' runs are inserted queued and one job trains them all.
        `check`: the caller's own bounds, run under the admission lock (as RunManager.create).
        Raises InvalidInput (422 naming `vary.<path>`, `base.<path>`, `mode`), TooMany (429)."""
        self.mgr.check_speed(speed, "query.speed")
        variants = self.expand(base, vary, mode)
        mgr = self.mgr
        sweep_id = secrets.token_hex(6)
        run_ids = [secrets.token_hex(6) for _ in variants]
        configs = [cfg.model_dump(mode="json") for _, cfg in variants]

        def insert() -> Job:
            spec = {
                "base": variants[0][1].model_dump(mode="json") if not base else base,
                "vary": vary,
                "mode": mode,
                "variants": [{"run": r, "values": v} for r, (v, _) in zip(run_ids, variants, strict=True)],
            }
            rows = [(r, dumps(c), dumps(run_brief(c))) for r, c in zip(run_ids, configs, strict=True)]
            self.store.insert_sweep(sweep_id, client, dumps(spec), rows, speed)
            if address:
                mgr.addresses.update(dict.fromkeys(run_ids, address))
            return Job(
                sweep_id,
                {},
                None,
                speed,
                paused,
                self.settings.max_checkpoint_bytes,
                variants=list(zip(run_ids, configs, strict=True)),
            )

        mgr.admit(client, address, check, insert)
        for r in run_ids:
            mgr.hub.announce(dumps({"type": "run_created", "run": mgr.resource(mgr.get(r), full=False)}))
        return self.sweep(sweep_id)

    # ---- queries --------------------------------------------------------------------------------
    def get(self, sweep_id: str) -> dict:
        row = self.store.get_sweep(sweep_id)
        if row is None:
            raise NotFound(f"no sweep with id {sweep_id!r}")
        return row

    def sweep(self, sweep_id: str) -> dict:
        """The sweep with a table of its variants: values, status, final and best metrics."""
        return self._resource(self.get(sweep_id))

    def _resource(self, row: dict) -> dict:
        spec = json.loads(row["spec"])
        runs = {r["id"]: r for r in self.store.sweep_runs(row["id"])}
        table = [self._variant(v, runs.get(v["run"])) for v in spec["variants"]]
        present = [v for v in table if v["status"] != "deleted"]
        return {
            "id": row["id"],
            "status": sweep_status([v["status"] for v in present]),
            "created_at": row["created_at"],
            "client": row["client"],
            "mode": spec["mode"],
            "vary": spec["vary"],
            "base": spec["base"],
            "runs": [v["run"] for v in spec["variants"]],
            "variants": table,
        }

    def _variant(self, v: dict, run: dict | None) -> dict:
        out = {"run": v["run"], "values": v["values"]}
        if run is None:  # deleted on its own through DELETE /api/runs/{id}
            return {**out, "status": "deleted", "epochs_run": 0, "best_epoch": None, "best_val_loss": None}
        summary = json.loads(run["summary"]) if run["summary"] else {}
        last = self.store.last_metric(run["id"])
        record = json.loads(last) if last else {}
        final = {k: summary.get(f"final_{k}", record.get(k)) for k in ("val_loss", "val_acc", "val_r2")}
        return {
            **out,
            "status": run["status"],
            "epochs_run": run["epochs_run"],
            "best_epoch": run["best_epoch"],
            "best_val_loss": run["best_val_loss"],
            **final,
            "message": run["message"],
        }

    def list(self, client: str | None, limit: int, offset: int) -> dict:
        rows, total = self.store.list_sweeps(client, limit, offset)
        return {"sweeps": [self._resource(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    # ---- control --------------------------------------------------------------------------------
    def control(self, sweep_id: str, action: str) -> dict:
        """pause | resume | step | stop every variant that allows it (engine/status.py ACTIONS): the worker
        pauses, resumes and steps the stacked training as a whole, between epochs, and stops each variant.
        Conflict when no variant is in a state that allows `action`."""
        self.get(sweep_id)
        acted = 0
        for run in self.store.sweep_runs(sweep_id):
            if run["status"] not in ACTIONS[action] or (action == "step" and acted):
                continue  # one step request steps the whole sweep one epoch
            try:
                self.mgr.control(run["id"], action)
                acted += 1
            except Conflict:  # it moved on meanwhile (ended, started)
                continue
        if not acted:
            raise Conflict(f"no variant of sweep {sweep_id} can {action} now")
        out = self.sweep(sweep_id)
        out["requested"] = action
        return out

    def delete(self, sweep_id: str) -> dict:
        """Delete the sweep and every variant's run (stopping the job first)."""
        self.get(sweep_id)
        runs = self.store.sweep_runs(sweep_id)
        for run in runs:  # an active one is cancelled in its worker first
            self.mgr.delete(run["id"])
        self.store.delete_sweep(sweep_id)
        return {"id": sweep_id, "deleted": True, "runs": [r["id"] for r in runs]}

    def runs_of(self, sweep_id: str) -> list[str]:
        """The sweep's run ids, in variant order (NotFound for an unknown sweep)."""
        return [v["run"] for v in json.loads(self.get(sweep_id)["spec"])["variants"]]
