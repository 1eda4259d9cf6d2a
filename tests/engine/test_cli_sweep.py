"""`nnplayground sweep`: K variants of a base config trained at once, a table of their results."""

import json
import subprocess
import sys

CLI = [sys.executable, "-m", "nnplayground.cli"]


def test_sweep_trains_every_variant_writes_their_events_and_prints_the_table(tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"dataset": {"n_samples": 100}, "telemetry": {"surface_every": 0}}))
    out = tmp_path / "ev.jsonl"
    p = subprocess.run(
        [*CLI, "sweep", str(base), "--vary", "optimizer.lr=0.001,0.1", "--vary", "init.scheme=xavier,he"]
        + ["--epochs", "3", "--events", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["#", "optimizer.lr", "init.scheme"]
    rows = [line.split() for line in lines[1:]]
    assert [r[1:3] for r in rows] == [["0.001", "xavier"], ["0.001", "he"], ["0.1", "xavier"], ["0.1", "he"]]
    assert all(r[3] == "completed" and r[4] == "3" for r in rows)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    for k in range(4):
        mine = [e for e in events if e["variant"] == k]
        assert mine[0]["type"] == "run_start" and mine[-1]["type"] == "run_end"
        assert [e["epoch"] for e in mine if e["type"] == "epoch"] == [0, 1, 2, 3]
    # the table's final validation loss is the variant's own run_end summary
    end = next(e for e in events if e["variant"] == 2 and e["type"] == "run_end")
    assert rows[2][7] == f"{end['summary']['final_val_loss']:.4f}"


def test_sweep_with_an_unknown_axis_names_the_path(tmp_path):
    base = tmp_path / "base.json"
    base.write_text("{}")
    p = subprocess.run(
        [*CLI, "sweep", str(base), "--vary", "optimizer.lrr=0.1,1"], capture_output=True, text=True, timeout=120
    )
    assert p.returncode != 0
    assert "vary.optimizer.lrr" in p.stderr and "Traceback" not in p.stderr
