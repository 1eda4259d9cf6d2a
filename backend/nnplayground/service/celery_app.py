"""The Celery app of the distributed backend (`nnplayground worker`, `serve --backend celery`).

This module must not import torch: Celery's main process imports it before it forks its pool children,
and a child forked from a parent that already ran multi-threaded torch ops can hang. Torch is imported
in each child (`worker_process_init`), set to one thread and warmed up once there. The task itself is in
celery_tasks.py; the settings below are justified in docs/distributed.md:

- task_acks_late: the broker keeps a run's message until its task returns, so a run whose worker was lost
  before it started is delivered again; a message delivered twice is dropped by the run's claim
  (Store.claim_run: UPDATE ... WHERE status = 'queued'), so no run ever trains twice.
- worker_prefetch_multiplier=1 and worker_disable_prefetch: a worker takes a message only when one of its
  children is free, so a short run never waits behind a long one in a busy worker's buffer while another
  worker has a free slot.
- task_reject_on_worker_lost=False: a killed child's task is acknowledged and reported failed (the
  task_failure handler below marks its runs), not requeued: the run lost its in-memory model and cannot
  continue, and a requeued copy would only be dropped by the claim.
- task_time_limit = max_run_seconds + margin (the web tier stops a run at max_run_seconds; the limit kills
  a child that did not stop), and the broker's visibility_timeout above it: a message still unacknowledged
  after the visibility timeout is delivered again, which must never happen to a run still training.
- worker_max_memory_per_child: a child that grew past it is replaced after its current run (slow growth
  from torch's allocator caches never takes the host down).
Control is never `revoke(terminate=True)`: a run stops through its control stream, between epochs."""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery import Celery, signals

from .settings import Settings

log = logging.getLogger(__name__)

TIME_LIMIT_MARGIN = 120  # seconds past max_run_seconds before the hard time limit kills a child
NO_LIMIT_SECONDS = 24 * 3600  # the hard limit when max_run_seconds is 0 (no wall-time cap)
VISIBILITY_MARGIN = 600  # seconds the broker's visibility timeout adds to the time limit
MEMORY_PER_CHILD_KB = 1_500_000  # ~1.5 GB resident: a child past it is replaced after its run
PROC_ALIVE_TIMEOUT = 60.0  # seconds a new pool child may take to warm up
TASK_NAME = "nnplayground.train"
QUEUE = "nnplayground"


def time_limit(settings: Settings) -> int:
    """The hard time limit of one run's task in seconds."""
    return (settings.max_run_seconds or NO_LIMIT_SECONDS) + TIME_LIMIT_MARGIN


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    limit = time_limit(settings)
    app = Celery("nnplayground", broker=settings.redis_url or "redis://127.0.0.1:6379/0", include=[])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        task_time_limit=limit,
        broker_transport_options={"visibility_timeout": limit + VISIBILITY_MARGIN},
        worker_max_memory_per_child=MEMORY_PER_CHILD_KB,
        # a child sends its "up" only after worker_process_init (torch's import and warm-up: seconds on a
        # busy host); Celery's 4 s default killed and replaced warming children in a loop
        worker_proc_alive_timeout=PROC_ALIVE_TIMEOUT,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


app = make_app()


@app.task(name=TASK_NAME, bind=True)
def train(self, job: dict) -> None:
    """Train one job (a run or a sweep) in this child; see celery_tasks.train_job."""
    from .celery_tasks import train_job

    train_job(job, self.request.hostname or socket.gethostname())


@signals.worker_process_init.connect
def _child_init(**_kwargs) -> None:
    """Each pool child: one torch thread, torch's first-call costs paid once before its first run."""
    from .worker import prepare_torch

    prepare_torch()


@signals.worker_ready.connect
def _ready(sender=None, **_kwargs) -> None:
    """The worker's main process announces its slots in Redis (`nnp:worker:<hostname>`, refreshed while
    it lives) for the web tier's stats and has_capacity."""
    from .streams import heartbeat_loop

    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    concurrency = getattr(getattr(sender, "controller", None), "concurrency", None) or app.conf.worker_concurrency
    threading.Thread(
        target=heartbeat_loop, args=(app.conf.broker_url, hostname, int(concurrency or 1)), daemon=True
    ).start()
    print(f"nnplayground worker {hostname} ready (pid {os.getpid()}, {concurrency} slots)", flush=True)


@signals.task_failure.connect
def _failed(sender=None, args=None, exception=None, **_kwargs) -> None:
    """A task that failed: a killed child (WorkerLostError, seen in the worker's main process), the time
    limit, or an error outside the training loop. Its runs still active are marked failed and every web
    process is told (their viewers get run_end)."""
    if sender is None or getattr(sender, "name", None) != TASK_NAME or not args:
        return
    from .celery_tasks import fail_job

    fail_job(args[0], exception)
