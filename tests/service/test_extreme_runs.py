"""Issue 9's engine examples through the service (in-process app, a real worker process, real
SQLite): what a diverged run stores, and that early stopping's restored epoch is the final model
that predict and the exports serve."""

from __future__ import annotations

from service_helpers import wait_for, wait_status

LR_10 = {"optimizer": {"lr": 10}, "training": {"epochs": 20}}
EARLY_STOP = {
    "dataset": {"name": "sine", "n_samples": 40, "noise": 0.3},
    "model": {"hidden": [32, 32]},
    "optimizer": {"name": "adam", "lr": 0.05},
    "early_stopping": {"enabled": True, "patience": 2},
    "training": {"epochs": 10},
}


def _start(client, config: dict) -> dict:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    return wait_status(client, r.json()["id"], timeout=120)


def test_lr_10_is_stored_as_diverged_with_null_losses_and_the_hint(client):
    run = _start(client, LR_10)
    rid = run["id"]
    assert run["status"] == "diverged"
    assert "with learning rate 10" in run["message"] and "try a smaller one" in run["message"]
    assert run["summary"]["final_val_loss"] is None and run["best_epoch"] == 0
    records = wait_for(lambda: [r for r in client.get(f"/api/runs/{rid}/metrics").json()["epochs"] if r["epoch"] == 1])
    assert records[0]["train_loss"] is None and records[0]["val_loss"] is None and records[0]["val_acc"] is None
    h = client.get(f"/api/runs/{rid}/histograms", params={"epoch": 1}).json()
    assert h["epoch"] == 1
    assert all("nonfinite" in v for layer in h["layers"].values() for v in layer.values())
    assert sum(v["nonfinite"] for layer in h["layers"].values() for v in layer.values()) > 0


def test_early_stopping_final_model_is_the_reported_best_epoch(client):
    run = _start(client, EARLY_STOP)
    rid = run["id"]
    s = run["summary"]
    assert run["status"] == "early_stopped" and run["best_epoch"] == 0
    assert s["best_epoch"] == 0 and s["restored_epoch"] == 0 and s["stopped_epoch"] == 2
    assert client.get(f"/api/runs/{rid}/checkpoints").json()["best_epoch"] == 0
    inputs = [[-2.0], [0.0], [1.5]]
    final = client.post(f"/api/runs/{rid}/predict", json={"inputs": inputs}).json()
    best = client.post(f"/api/runs/{rid}/predict", json={"inputs": inputs, "epoch": 0}).json()
    last = client.post(f"/api/runs/{rid}/predict", json={"inputs": inputs, "epoch": 2}).json()
    assert final["mean"] == best["mean"] and final["mean"] != last["mean"]
    exported = client.get(f"/api/runs/{rid}/export", params={"format": "json"}).json()["parameters"]
    at_best = client.get(f"/api/runs/{rid}/export", params={"format": "json", "epoch": 0}).json()["parameters"]
    assert exported == at_best
