"""A stored run read back as input: its configuration validated again, and the weights a transfer run
starts from. Used by the web tier (manager, artifacts) and by a Celery worker, which reads a transfer
run's source here rather than receiving it through the broker."""

from __future__ import annotations

import json

from ..engine.config import RunConfig, error_kind
from .errors import Conflict, ServiceError, field_error
from .store import Store


def stored_config(row: dict, effective: bool = False) -> RunConfig:
    """A run's stored configuration, validated again as if it had just been submitted: the submitted
    one, or with `effective` the one its run_start event reported (a transfer run's adopted layers).
    A database written before a check existed (e.g. non-finite custom points) may hold one that no
    longer passes: 409 naming the field, never a 500 from deep inside the engine."""
    from pydantic import ValidationError

    if effective:
        if not row["info"]:
            raise Conflict(f"run {row['id']} has no model yet (it is {row['status']})")
        raw = json.loads(row["info"])["config"]
    else:
        raw = json.loads(row["config"])
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(config)"
        code, ctx = error_kind(first)
        raise Conflict(
            f"run {row['id']} was stored with a configuration this server no longer accepts "
            f"({where}: {first.get('msg', 'invalid')}); start a new run",
            [{"field": where, "message": first.get("msg", "invalid"), "type": code, "ctx": ctx}],
        ) from None


def stored_source(store: Store, src: str, epoch: int | None) -> tuple[dict, bytes]:
    """Run `src`'s effective config and its weights: the latest checkpoint at or before `epoch`
    ("continue from this epoch"), or its final model when `epoch` is None (a Celery worker reads it
    here too, rather than receiving it through the broker). InvalidInput naming transfer.source."""
    row = store.get_run(src)
    if row is None:
        raise field_error("transfer.source", f"no run with id {src!r}", "no_run", {"source": src})
    if epoch is not None:
        kept = [e for e in store.checkpoint_epochs(src) if e <= epoch]
        blob = store.checkpoint(src, kept[-1]) if kept else None
    else:
        blob = store.final_state(src)
    if blob is None or not row["info"]:
        raise field_error(
            "transfer.source",
            f"run {src!r} is {row['status']} and has no final model to start from",
            "source_no_model",
            {"source": src, "status": row["status"]},
        )
    try:
        src_config = stored_config(row, effective=True).model_dump(mode="json")
    except ServiceError as e:
        raise field_error("transfer.source", e.message, "source_unreadable", {"source": src}) from None
    return src_config, blob
