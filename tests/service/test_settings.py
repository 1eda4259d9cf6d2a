"""NNPLAYGROUND_* settings: read from the environment with types and bounds; `serve` options win; classroom
mode's defaults fill only what neither sets."""

import os
import subprocess

import pytest
from nnplayground.service.settings import CLASSROOM_DEFAULTS, Settings
from pydantic import ValidationError
from service_helpers import nnplayground_command


def test_environment_values_are_typed_and_options_win(monkeypatch):
    monkeypatch.setenv("NNPLAYGROUND_MAX_EPOCHS", "77")
    monkeypatch.setenv("NNPLAYGROUND_MIN_SPEED", "0.5")
    monkeypatch.setenv("NNPLAYGROUND_DB_PATH", "env.db")
    s = Settings.from_env(db_path="option.db", queue_bound=None)
    assert (s.max_epochs, s.min_speed, s.db_path, s.queue_bound) == (77, 0.5, "option.db", 64)


@pytest.mark.parametrize("raw,on", [("1", True), ("true", True), ("yes", True), ("0", False), ("false", False)])
def test_classroom_is_a_boolean(monkeypatch, raw, on):
    monkeypatch.setenv("NNPLAYGROUND_CLASSROOM", raw)
    assert Settings.from_env().classroom is on


def test_classroom_defaults_fill_only_unset_fields(monkeypatch):
    monkeypatch.setenv("NNPLAYGROUND_MAX_EPOCHS", "123")
    s = Settings.from_env(classroom=True, max_params=999)
    assert s.max_epochs == 123  # the environment wins over classroom's default (2000)
    assert s.max_params == 999  # and so does an option (classroom's is 50000)
    assert s.max_runs_per_client == CLASSROOM_DEFAULTS["max_runs_per_client"] == 3
    assert s.max_pause_seconds == 300
    plain = Settings.from_env()
    assert (plain.max_runs_per_client, plain.max_pause_seconds, plain.max_epochs) == (8, 0, 123)


@pytest.mark.parametrize(
    "name,raw",
    [
        ("NNPLAYGROUND_MAX_EPOCHS", "0"),
        ("NNPLAYGROUND_MIN_SPEED", "-1"),
        ("NNPLAYGROUND_QUEUE_BOUND", "many"),
        ("NNPLAYGROUND_CLASSROOM", "maybe"),
    ],
)
def test_bad_values_are_refused_naming_the_field(monkeypatch, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ValidationError) as err:
        Settings.from_env()
    assert err.value.errors()[0]["loc"] == (name.removeprefix("NNPLAYGROUND_").lower(),)


def test_zero_workers_means_the_cores_and_limits_keep_their_keys():
    s = Settings(workers=0)
    assert s.workers >= 1
    assert list(s.limits())[:3] == ["max_params", "max_epochs", "max_dataset_size"]
    assert "hidden-value" not in repr(Settings(teacher_secret="hidden-value", secret_key="hidden-value"))


def test_serve_refuses_a_bad_value_naming_the_variable(tmp_path):
    env = {**os.environ, "NNPLAYGROUND_MAX_EPOCHS": "0"}
    proc = subprocess.run(
        [*nnplayground_command(), "serve", "--db", str(tmp_path / "x.db"), "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "NNPLAYGROUND_MAX_EPOCHS" in proc.stderr and "greater than or equal to 1" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x.db").exists()
