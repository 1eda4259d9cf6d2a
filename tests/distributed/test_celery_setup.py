"""The Celery app's import and settings, and the CLI's refusals: no Redis or workers needed."""

from __future__ import annotations

import os
import subprocess
import sys

from procs import free_port
from service_helpers import nnplayground_command


def test_the_celery_app_module_imports_no_torch():
    code = "import sys, nnplayground.service.celery_app as a; a.app.conf.task_time_limit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_settings_time_limit_below_the_visibility_timeout_late_acks_no_prefetch():
    from nnplayground.service.celery_app import TIME_LIMIT_MARGIN, make_app
    from nnplayground.service.settings import Settings

    conf = make_app(Settings(redis_url="redis://127.0.0.1:1/0", max_run_seconds=600)).conf
    assert conf.task_time_limit == 600 + TIME_LIMIT_MARGIN
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_acks_late and not conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1 and conf.worker_disable_prefetch
    assert conf.worker_max_memory_per_child > 0
    unbounded = make_app(Settings(redis_url="redis://127.0.0.1:1/0", max_run_seconds=0)).conf
    assert unbounded.broker_transport_options["visibility_timeout"] > unbounded.task_time_limit >= 24 * 3600


def test_serve_and_worker_refuse_a_missing_redis_url(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NNPLAYGROUND_REDIS_URL"}
    for args in (["serve", "--backend", "celery", "--db", str(tmp_path / "x.db")], ["worker"]):
        out = subprocess.run([*nnplayground_command(), *args], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "NNPLAYGROUND_REDIS_URL" in out.stderr
    env["NNPLAYGROUND_BACKEND"] = "celery"  # the environment variable alone asks for it too
    out = subprocess.run(
        [*nnplayground_command(), "serve", "--db", str(tmp_path / "x.db")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "NNPLAYGROUND_REDIS_URL" in out.stderr


def test_serve_with_the_local_backend_and_shared_state_says_several_processes_need_celery(tmp_path):
    """Several `serve` processes on one store with the local backend each mark the others' runs interrupted
    (docs/distributed.md): a local-backend serve given NNPLAYGROUND_REDIS_URL says to use celery. It stops
    here on the missing teacher secret, so no server starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNPLAYGROUND_")}
    env["NNPLAYGROUND_REDIS_URL"] = "redis://127.0.0.1:1/0"
    cmd = [*nnplayground_command(), "serve", "--classroom", "--db", str(tmp_path / "x.db")]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "several web processes need --backend celery" in out.stderr
    out = subprocess.run([*cmd, "--backend", "celery"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--backend celery" not in out.stderr


def test_serve_prints_the_redis_url_without_its_password(tmp_path):
    """A Redis reached from other hosts has a password (requirepass, README): it is in the URL, and the
    start-up line, which goes to logs, shows the rest of the URL with the password masked."""
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"  # nothing listens: the banner comes first
    env = {**os.environ, "NNPLAYGROUND_REDIS_URL": url}
    args = ["serve", "--backend", "celery", "--port", str(free_port()), "--db", str(tmp_path / "x.db")]
    proc = subprocess.Popen([*nnplayground_command(), *args], env=env, stdout=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert "Celery workers via redis://:**@127.0.0.1:" in banner, banner
    assert "s3cret-pw" not in banner
