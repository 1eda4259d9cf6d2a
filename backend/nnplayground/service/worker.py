"""The worker process: holds up to `slots` runs, trains them one epoch at a time in round-robin order,
and sends every epoch's events to the web tier over its pipe. Control messages (pause, resume, step,
stop, speed, cancel) are read between epochs. A Celery task drives the same `Worker` through
celery_tasks.StreamConn: Redis streams and the store in place of the pipe. Started with the `spawn`
method; one torch thread."""

from __future__ import annotations

import io
import json
import os
import time
import traceback
from collections import deque
from dataclasses import dataclass, field

from ..jsonutil import dumps
from .executor import Failed, Job, Started, Step
from .store import Packed, StepWrite


@dataclass
class _Slot:
    job: Job
    trainer: object
    paused: bool = False
    steps: int = 0  # single steps requested while paused
    interval: float = 0.0  # seconds between epochs (throttle)
    next_due: float = 0.0
    sent: set[int] = field(default_factory=set)  # checkpoint epochs already sent

    def runnable(self, now: float) -> bool:
        return (not self.paused or self.steps > 0) and now >= self.next_due


@dataclass
class _SweepSlot(_Slot):
    """A sweep's job: one engine Sweep, variant k reporting as run `runs[k]` (None once it has ended or was
    cancelled). Paused, stepped and throttled as a whole; stopped per variant."""

    sweep: object = None
    runs: list[str | None] = field(default_factory=list)
    sents: list[set[int]] = field(default_factory=list)  # per variant, as _Slot.sent

    def index(self, run_id: str) -> int:
        return self.runs.index(run_id)


MAX_WAIT = 60.0  # seconds one wait for commands may last: a far-off due time is waited for in steps
CHECK_EVERY = 0.05  # seconds of training between two looks at the pipe for a stop (mid-epoch)


def _interval(speed: float | None) -> float:
    """Seconds between epochs for a throttle of `speed` epochs/s (0 or None = none). The web tier
    refuses speeds below `min_speed`; a value that is not a number raises, failing only its run."""
    if speed is None or speed == 0:
        return 0.0
    if not speed > 0:
        raise ValueError(f"speed must be a positive number of epochs per second, got {speed!r}")
    return 1.0 / speed


def pack(ev: dict) -> Packed:
    kind = ev["type"]
    if kind == "epoch":
        fields = {k: v for k, v in ev.items() if k != "type"}
        # a small dict: encoding it twice costs less than splicing the two texts did (README, Performance)
        return Packed(kind, ev["epoch"], dumps({"type": "epoch", **fields}), dumps(fields))
    return Packed(kind, ev.get("epoch"), dumps(ev))


RAW_MAGIC = b"NNPSTATE1\n"  # the raw format written before safetensors (databases may hold it)


def state_bytes(state: dict) -> bytes:
    """A state dict as a safetensors blob (raw tensor bytes behind a JSON header: read back without
    unpickling anything, and several times cheaper than torch.save for the small models trained here, where a
    checkpoint is written every epoch). The names' order travels in the metadata (safetensors sorts them)."""
    tensors = {name: value.detach().to("cpu").contiguous() for name, value in state.items()}
    metadata = {"order": dumps(list(tensors))}
    if all(str(t.dtype) in _NUMPY_DTYPES for t in tensors.values()):
        # the same bytes as safetensors.torch.save, at a third of its cost (~100 µs against ~300 µs for the
        # default MLP, paid on every epoch of every run: README, Performance)
        from safetensors.numpy import save as save_numpy

        return save_numpy({name: t.numpy() for name, t in tensors.items()}, metadata=metadata)
    from safetensors.torch import save

    return save(tensors, metadata=metadata)


# torch dtypes numpy holds as they are (not bfloat16 nor the float8 kinds); by name: this module imports no torch
_NUMPY_DTYPES = {
    f"torch.{n}" for n in ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")
}


def _safetensors_header(blob: bytes) -> dict | None:
    """The JSON header of a safetensors blob (8 bytes of length, then the header), or None for another format
    (a torch.save zip starts "PK", the old raw format RAW_MAGIC)."""
    if len(blob) < 9 or blob[8:9] != b"{":
        return None
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8 : 8 + n]) if 8 + n <= len(blob) else None


def load_state(blob: bytes) -> dict:
    """A state dict from any stored blob: safetensors (written now), the raw NNPSTATE1 format or a torch.save
    file (both written by earlier versions, which databases still hold)."""
    if blob.startswith(RAW_MAGIC):
        return _load_raw(blob)
    header = _safetensors_header(blob)
    if header is not None:
        from safetensors.torch import load

        tensors = load(blob)
        order = json.loads(header.get("__metadata__", {}).get("order", "[]"))
        return {k: tensors[k] for k in order if k in tensors} | tensors
    import torch

    return torch.load(io.BytesIO(blob), weights_only=True)


def _load_raw(blob: bytes) -> dict:
    import torch

    start = len(RAW_MAGIC)
    n = int.from_bytes(blob[start : start + 4], "little")
    header = json.loads(blob[start + 4 : start + 4 + n])
    body = bytearray(blob[start + 4 + n :])
    out = {}
    for name, dtype_name, shape, offset, numel in header:
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown tensor type {dtype_name!r} in a stored state")
        if numel:
            out[name] = torch.frombuffer(body, dtype=dtype, count=numel, offset=offset).reshape(shape)
        else:
            out[name] = torch.empty(shape, dtype=dtype)
    return out


def torch_bytes(blob: bytes) -> bytes:
    """The state as a torch.save file (what `export?format=state_dict` serves)."""
    if not blob.startswith(RAW_MAGIC) and _safetensors_header(blob) is None:
        return blob  # already a torch.save file
    import torch

    buf = io.BytesIO()
    torch.save({k: v.clone() for k, v in load_state(blob).items()}, buf)
    return buf.getvalue()


def _warm_up() -> None:
    """Pay torch's first-call costs now, so that the first real run starts fast."""
    from nnplayground.engine import Trainer

    t = Trainer(
        {
            "dataset": {"n_samples": 40},
            "training": {"epochs": 1, "device": "cpu"},
            "telemetry": {"histogram_every": 1, "surface_every": 1, "surface_resolution": 8},
        }
    )
    for _ in t:
        pass
    state_bytes(t.model.state_dict())


class Worker:
    def __init__(self, index: int, conn, cpu_trace: str = ""):
        self.index = index
        self.conn = conn
        # benchmarks (settings.trace_file): this process's CPU seconds inside epochs, split into training
        # and packing + sending, appended to `cpu_trace` when a run ends, so that a benchmark can tell
        # the service's extra CPU per epoch apart (bench_concurrency.py)
        self.cpu_trace = cpu_trace
        self.cpu_train = self.cpu_emit = 0.0
        self.cpu_epochs = 0
        self.slots: dict[str, _Slot] = {}
        self.order: list[str] = []  # round-robin order
        self.turn = 0
        self.pending: deque = deque()  # commands read during an epoch, handled after it
        self.current: str | None = None  # the run whose epoch is being trained
        self.members: dict[str, _SweepSlot] = {}  # a sweep variant's run id -> its sweep's slot
        self._checked = 0.0

    def send(self, msg) -> None:
        self.conn.send(msg)

    # ---- commands ---------------------------------------------------------------------------
    def handle(self, msg) -> bool:
        kind = msg[0]
        if kind == "shutdown":
            return False
        if kind == "submit":
            self.start_job(msg[1])
        elif kind == "control":
            try:
                self.control(msg[1], msg[2], msg[3])
            except Exception as e:  # one run's bad command fails that run, never the worker
                self.fail(msg[1], e)
        return True

    def fail(self, run_id: str, e: BaseException) -> None:
        sweep = self.members.get(run_id)
        if sweep is not None:  # one variant's bad command ends that variant; the sweep goes on
            k = sweep.index(run_id)
            sweep.sweep.stop(k, "failed")
            self._leave(sweep, k)
        self.drop(run_id)
        self.send(Failed(run_id, _describe(e)))

    def start_job(self, job: Job) -> None:
        from nnplayground.engine import Trainer

        if job.variants is not None:
            self.start_sweep(job)
            return
        self.send(Started(job.run_id, self.index, job.paused, os.getpid()))
        try:
            loader = None
            if job.source is not None:
                src_config, blob = job.source

                def loader(_run_id, src_config=src_config, blob=blob):
                    return src_config, load_state(blob)

            trainer = Trainer(job.config, source_loader=loader)
            # thinned to the server's byte budget; every one sent is then held by SQLite, not here
            trainer.checkpoints.max_bytes = job.checkpoint_bytes
            trainer.should_stop = self._should_stop
            slot = _Slot(job, trainer, paused=job.paused, interval=_interval(job.speed))
            self.slots[job.run_id] = slot
            self.order.append(job.run_id)
            self.emit(slot, trainer.start())
        except Exception as e:  # a bad config or a bug: the run fails, the worker lives on
            self.fail(job.run_id, e)

    def control(self, run_id: str, action: str, value) -> None:
        if run_id in self.members:
            self.control_variant(self.members[run_id], run_id, action, value)
            return
        slot = self.slots.get(run_id)
        if slot is None:
            return
        if action == "pause":
            slot.paused, slot.steps = True, 0
        elif action == "resume":
            slot.paused, slot.steps = False, 0
        elif action == "step":
            slot.steps += 1
        elif action == "speed":
            slot.interval = _interval(value)
            slot.next_due = 0.0
        elif action == "stop":
            self.emit(slot, slot.trainer.stop(value) if isinstance(value, str) else slot.trainer.stop())
        elif action == "cancel":
            self.drop(run_id)
        elif action == "weights":  # {layer, index, value}, validated by the manager; between epochs
            slot.sent.discard(slot.trainer.epoch)  # that epoch's checkpoint now holds the edit: send it again
            self.emit(slot, slot.trainer.edit_weight(value["layer"], value["index"], value["value"]))

    def drop(self, run_id: str) -> None:
        self.slots.pop(run_id, None)
        if run_id in self.order:
            self.order.remove(run_id)

    # ---- sweeps ------------------------------------------------------------------------------
    def start_sweep(self, job: Job) -> None:
        """Build the job's engine Sweep and send every variant's start (run_start, epoch 0). A sweep that
        cannot be built fails all its runs with the reason; the worker lives on."""
        from nnplayground.engine.sweep import Sweep

        runs = job.run_ids()
        for run_id in runs:
            self.send(Started(run_id, self.index, job.paused, os.getpid()))
        try:
            sweep = Sweep([config for _, config in job.variants])
            for trainer in sweep.trainers:
                trainer.checkpoints.max_bytes = job.checkpoint_bytes
            slot = _SweepSlot(job, None, paused=job.paused, interval=_interval(job.speed), sweep=sweep, runs=list(runs))
            slot.sents = [set() for _ in runs]
            self.slots[job.run_id] = slot
            self.order.append(job.run_id)
            self.members.update(dict.fromkeys(runs, slot))
            self.emit_sweep(slot, sweep.start())
        except Exception as e:
            self.fail_sweep(job, e)

    def fail_sweep(self, job: Job, e: BaseException) -> None:
        slot = self.slots.get(job.run_id)
        live = [r for r in slot.runs if r is not None] if isinstance(slot, _SweepSlot) else job.run_ids()
        for run_id in live:
            self.members.pop(run_id, None)
            self.send(Failed(run_id, _describe(e)))
        self.drop(job.run_id)

    def control_variant(self, slot: _SweepSlot, run_id: str, action: str, value) -> None:
        """Stop and cancel end one variant (the others go on); the other actions act on the whole sweep,
        whose variants train in one stacked step."""
        k = slot.index(run_id)
        if action == "stop":
            self.emit_sweep(slot, {k: slot.sweep.stop(k, value if isinstance(value, str) else "stopped by the user")})
        elif action == "cancel":
            slot.sweep.stop(k, "deleted")
            self._leave(slot, k)
        elif action == "weights":  # the variant's model is a view into the stack: the edit lands there
            trainer = slot.sweep.trainers[k]
            slot.sents[k].discard(trainer.epoch)
            self.emit_sweep(slot, {k: trainer.edit_weight(value["layer"], value["index"], value["value"])})
        else:
            self.control(slot.job.run_id, action, value)

    def _leave(self, slot: _SweepSlot, k: int) -> None:
        """Variant k reports no more; the sweep's slot goes when none is left."""
        if slot.runs[k] is not None:
            self.members.pop(slot.runs[k], None)
            slot.runs[k] = None
        if all(r is None for r in slot.runs):
            self.drop(slot.job.run_id)

    def emit_sweep(self, slot: _SweepSlot, out: dict[int, list[dict]]) -> None:
        """Each variant's events as its own run's step, written exactly as a lone run's (`_write`)."""
        for k, events in sorted(out.items()):
            run_id = slot.runs[k]
            if run_id is None:
                continue
            trainer = slot.sweep.trainers[k]
            write, slot.sents[k] = _write(trainer, events, slot.sents[k])
            self.send(Step(run_id, write, time.time(), trainer.done))
            if trainer.done:
                self._leave(slot, k)

    def run_sweep_epoch(self, slot: _SweepSlot) -> None:
        try:
            self.emit_sweep(slot, slot.sweep.step())
        except Exception as e:  # the stacked step broke: every variant still training fails with the reason
            self.fail_sweep(slot.job, e)

    # ---- training ----------------------------------------------------------------------------
    def emit(self, slot: _Slot, events: list[dict]) -> None:
        write, slot.sent = _write(slot.trainer, events, slot.sent)
        done = slot.trainer.done
        if done:
            self.drop(slot.job.run_id)
        self.send(Step(slot.job.run_id, write, time.time(), done))

    def next_runnable(self, now: float) -> _Slot | None:
        n = len(self.order)
        for i in range(n):
            run_id = self.order[(self.turn + i) % n]
            slot = self.slots[run_id]
            if slot.runnable(now):
                self.turn = (self.turn + i + 1) % max(n, 1)
                return slot
        return None

    def wait_time(self, now: float) -> float | None:
        """How long to block for commands: None = until one comes, 0 = a run is ready now."""
        dues = [s.next_due for s in self.slots.values() if not s.paused or s.steps > 0]
        if not dues:
            return None
        return min(MAX_WAIT, max(0.0, min(dues) - now))

    def _should_stop(self) -> str | None:
        """Asked by the trainer between batches: a reason to stop the current run now (a stop,
        cancel or shutdown already sent), SUSPEND when it was paused (the epoch goes on when it is
        resumed or stepped), else None. Commands wait in `pending` until the trainer returns; the
        pipe is looked at every CHECK_EVERY seconds at most."""
        from nnplayground.engine.trainer import SUSPEND

        now = time.perf_counter()
        if now - self._checked < CHECK_EVERY:
            return None
        self._checked = now
        while self.conn.poll(0):
            self.pending.append(self.conn.recv())
        paused = False
        for msg in self.pending:
            if msg[0] == "shutdown":
                return "stopped: the server is shutting down"
            if msg[0] == "control" and msg[1] == self.current:
                if msg[2] in ("stop", "cancel"):
                    return msg[3] if isinstance(msg[3], str) else "stopped by the user"
                if msg[2] in ("pause", "resume"):
                    paused = msg[2] == "pause"
        return SUSPEND if paused else None

    def run_one(self, slot: _Slot) -> None:
        if slot.paused:
            slot.steps -= 1
        t0 = self._checked = time.perf_counter()
        c0 = time.process_time()
        self.current = slot.job.run_id
        try:
            if isinstance(slot, _SweepSlot):
                self.run_sweep_epoch(slot)
                events = None
            else:
                events = slot.trainer.train_epoch()
            c1 = time.process_time()
            if slot.interval:
                slot.next_due = time.time() + max(0.0, slot.interval - (time.perf_counter() - t0))
            if events or (events is not None and slot.trainer.done):  # none: suspended by a pause
                self.emit(slot, events)
            if self.cpu_trace:
                self._account(c1 - c0, time.process_time() - c1, slot)
        except Exception as e:  # this run fails; the worker and its other runs go on
            self.fail(slot.job.run_id, e)
        finally:
            self.current = None

    def _account(self, train: float, emit: float, slot: _Slot) -> None:
        """Benchmarks only: add one epoch's CPU seconds; when its run has ended, append this process's
        totals as 'pid epochs train_s emit_s' to `cpu_trace` (the last line of a pid holds its totals)."""
        self.cpu_train += train
        self.cpu_emit += emit
        self.cpu_epochs += 1
        if isinstance(slot, _SweepSlot) or not slot.trainer.done:
            return
        with open(self.cpu_trace, "a") as f:
            f.write(f"{os.getpid()} {self.cpu_epochs} {self.cpu_train:.6f} {self.cpu_emit:.6f}\n")

    def loop(self) -> None:
        while True:
            while self.pending:  # commands read during the last epoch, in order
                if not self.handle(self.pending.popleft()):
                    return
            if self.conn.poll(self.wait_time(time.time())):
                while True:  # every pending command is handled before the next epoch
                    if not self.handle(self.conn.recv()):
                        return
                    if not self.conn.poll(0):
                        break
                continue
            slot = self.next_runnable(time.time())
            if slot is not None:
                self.run_one(slot)


def _write(trainer, events: list[dict], sent: set[int]) -> tuple[StepWrite, set[int]]:
    """One step of a run as the store writes it: its events, the checkpoints kept since `sent` (the epochs
    already sent) and those thinned away, and when the run ended its final model. Returns the write and
    the epochs now sent."""
    kept = set(trainer.checkpoints.epochs())
    write = StepWrite(
        [pack(e) for e in events],
        {e: state_bytes(trainer.checkpoints.get(e)) for e in sorted(kept - sent)},
        sorted(sent - kept),
    )
    trainer.checkpoints.release(kept)  # SQLite holds them now: only pinned and latest stay in memory
    if trainer.done:
        write.final_state = state_bytes(trainer.model.state_dict())
    return write, kept


def _describe(e: BaseException) -> str:
    if isinstance(e, ValueError):
        return str(e)
    last = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    where = f" (at {os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
    return f"{type(e).__name__}: {e}{where}"


def prepare_torch() -> None:
    """Once per worker process (local or Celery child), before its first run: one torch thread (the
    processes are the parallelism) and torch's first-call costs paid."""
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        _warm_up()
    except Exception:
        pass


def worker_main(index: int, conn, nice: int = 0, cpu_trace: str = "") -> None:
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    prepare_torch()
    conn.send(("ready", index, os.getpid()))
    try:
        Worker(index, conn, cpu_trace).loop()
    except (EOFError, OSError, KeyboardInterrupt):
        pass
