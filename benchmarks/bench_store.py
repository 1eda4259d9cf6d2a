"""The run store alone: `apply_step` per epoch (an epoch record of ~600 bytes, a surface view every
5th epoch, a 20 KB checkpoint every 10th with the thinned one dropped) and a viewer's snapshot reads
(get_run, metrics, markers, the latest view), on a SQLite file or a SQLAlchemy URL.

.venv/bin/python benchmarks/bench_store.py [--db FILE_OR_URL] [--runs 4] [--epochs 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from nnplayground.service.store import Packed, StepWrite, Store

RECORD = '{"epoch":%d,"train_loss":0.123456,"val_loss":0.234567,"train_acc":0.9,"val_acc":0.8,' + (
    '"lr":0.01,"grad_norm":[' + ",".join(["0.0123"] * 60) + "]}"
)
SURFACE = '{"type":"surface","epoch":%d,"z":[' + ",".join(["0.5"] * 2000) + "]}"


def step(e: int) -> StepWrite:
    record = RECORD % e
    events = [Packed("epoch", e, '{"type":"epoch",' + record[1:], record)]
    if e % 5 == 0:
        events.append(Packed("surface", e, SURFACE % e))
    write = StepWrite(events)
    if e % 10 == 0:
        write.checkpoints = {e: os.urandom(20_000)}
        write.dropped = [e - 20] if e >= 20 else []
    return write


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=300)
    args = ap.parse_args()
    folder = tempfile.mkdtemp()
    store = Store(args.db or os.path.join(folder, "bench.db"))
    per_epoch, reads = [], []
    try:
        for r in range(args.runs):
            run_id = f"bench{r}-{time.time_ns()}"
            store.insert_run(run_id, '{"training":{"epochs":300}}', "bench", 1.0)
            for e in range(args.epochs):
                w = step(e)
                t0 = time.perf_counter()
                store.apply_step(run_id, w, None, None)
                per_epoch.append(time.perf_counter() - t0)
            for _ in range(50):
                t0 = time.perf_counter()
                with store.read_tx():
                    store.get_run(run_id)
                    store.metrics(run_id)
                    store.markers(run_id)
                    store.view(run_id, "surface", None)
                reads.append(time.perf_counter() - t0)
            store.delete_run(run_id)
    finally:
        store.close()
    ms = sorted(x * 1000 for x in per_epoch)
    print(f"apply_step: median {statistics.median(ms):.3f} ms, p99 {ms[int(len(ms) * 0.99)]:.3f} ms ({len(ms)} epochs)")
    rs = sorted(x * 1000 for x in reads)
    p99 = rs[int(len(rs) * 0.99)]
    print(f"snapshot reads ({args.epochs} epochs): median {statistics.median(rs):.3f} ms, p99 {p99:.3f} ms")


if __name__ == "__main__":
    main()
