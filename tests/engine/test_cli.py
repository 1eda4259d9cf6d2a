import json
import os
import subprocess
import sys

CLI = [sys.executable, "-m", "nnplayground.cli"]


def test_run_preset_prints_progress_and_writes_events(tmp_path):
    out = tmp_path / "ev.jsonl"
    p = subprocess.run(
        [*CLI, "run", "--preset", "zero-init", "--epochs", "5", "--events", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    assert p.returncode == 0, p.stderr
    assert "completed after 5 epochs" in p.stdout
    assert "5/5" in p.stderr  # the progress bar reached the end
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events[0]["type"] == "run_start" and events[-1]["type"] == "run_end"
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == list(range(6))


def test_bad_config_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"optimizer": {"lr": -1}, "model": {"activation": "swish"}}))
    p = subprocess.run([*CLI, "run", str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert "optimizer.lr" in p.stderr and "model.activation" in p.stderr
    assert "Traceback" not in p.stderr


def test_unknown_preset_lists_known_ones():
    p = subprocess.run([*CLI, "run", "--preset", "nope"], capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "vanishing-gradients" in p.stderr
    p = subprocess.run([*CLI, "presets"], capture_output=True, text=True, timeout=120)
    assert "transfer-digits" in p.stdout


def test_a_split_that_cannot_train_is_a_clear_error_naming_the_field(tmp_path):
    bad = tmp_path / "tiny.json"
    bad.write_text(
        json.dumps(
            {
                "dataset": {"name": "sine", "n_samples": 10, "val_fraction": 0.9},
                "preprocessing": {"standardize": False},
                "model": {"batch_norm": True},
                "training": {"epochs": 3},
            }
        )
    )
    p = subprocess.run([*CLI, "run", str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2  # a usage error, before training: no run_start
    assert "dataset.val_fraction" in p.stderr and "batch normalization" in p.stderr
    assert "Traceback" not in p.stderr and "Expected more than 1 value" not in p.stderr + p.stdout
