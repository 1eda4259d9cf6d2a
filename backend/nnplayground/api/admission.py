"""Admitting a new run (POST /api/runs, a room's start, a restart): the caller's right to the transfer
source's weights and the per-client fairness bounds, then the manager. Shared by the runs and rooms routers,
which so import neither each other."""

from __future__ import annotations

import functools

from fastapi import Request

from ..engine.config import RunConfig
from ..service.errors import TooMany
from .auth import address, may_use_weights, require_client


def admit(request: Request, config: RunConfig, speed: float, paused: bool) -> dict:
    p = require_client(request)  # the owner: the client token, else X-Client-Id, else the address
    mgr = request.app.state.manager
    src = config.transfer.source if config.transfer is not None else ""
    if src and not src.startswith("builtin:"):
        row = mgr.store.get_run(src)
        if row is not None:  # an unknown id is the manager's 422 on transfer.source
            may_use_weights(request, row)
    # the fairness bounds are checked under the manager's admission lock, with its own bounds, and the
    # run row inserted before it is released: concurrent requests (on any web process) cannot both pass
    fair = None if p.teacher else functools.partial(_fair, request, p.client)
    return mgr.create(config, p.client, speed, paused, "" if p.teacher else address(request), check=fair)


def _fair(request: Request, client: str) -> None:
    """Per-client bounds on training and waiting runs (classroom mode's defaults: 2 and 1)."""
    s = request.app.state.settings
    if not (s.max_running_per_client or s.max_queued_per_client):
        return
    counts = request.app.state.classroom.client_counts(client)
    queued = request.app.state.manager.waiting(client) if counts.get("queued") else 0
    # a run handed to a worker stays `queued` until the worker reports it started: it is training
    training = counts.get("running", 0) + counts.get("paused", 0) + counts.get("queued", 0) - queued
    if s.max_running_per_client and training >= s.max_running_per_client:
        raise TooMany(
            f"you already have {training} runs training (the limit is {s.max_running_per_client}); "
            "stop one or wait for it to finish",
        )
    if s.max_queued_per_client and queued >= s.max_queued_per_client:
        raise TooMany(
            f"you already have {queued} runs waiting for a worker (the limit is {s.max_queued_per_client}); "
            "wait for it to start",
        )
