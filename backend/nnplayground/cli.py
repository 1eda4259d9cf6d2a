"""The `nnplayground` command: headless runs (`run`), sweeps (`sweep`), the preset list (`presets`) and
the server (`serve`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer
from pydantic import ValidationError
from tqdm import tqdm

app = typer.Typer(add_completion=False, no_args_is_help=True, help="nnplayground: watch a small network learn.")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def load_config(config_path: Path | None, preset: str | None):
    from .engine import presets
    from .engine.config import RunConfig, error_location

    if (config_path is None) == (preset is None):
        raise typer.BadParameter("give either a CONFIG.json path or --preset NAME")
    if preset is not None:
        try:
            return presets.config(preset)
        except KeyError as e:
            raise typer.BadParameter(str(e.args[0])) from None
    try:
        return RunConfig.model_validate_json(config_path.read_text())
    except OSError as e:
        raise typer.BadParameter(f"cannot read {config_path}: {e.strerror}") from None
    except ValidationError as e:
        located = [error_location(err) for err in e.errors()]
        lines = [f"  {'.'.join(map(str, loc)) or '(config)'}: {msg}" for loc, msg in located]
        raise typer.BadParameter("invalid configuration:\n" + "\n".join(lines)) from None


@app.command()
def run(
    config: Path | None = typer.Argument(None, help="A run configuration (JSON)."),
    preset: str | None = typer.Option(None, "--preset", "-p", help="A lesson preset (see `nnplayground presets`)."),
    events: Path | None = typer.Option(None, "--events", help="Write every telemetry event here as JSON lines."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override training.epochs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Train one run headless, with a progress bar."""
    from .engine import Trainer
    from .engine.status import RunStatus
    from .jsonutil import dumps

    cfg = load_config(config, preset)
    if epochs is not None:
        cfg.training.epochs = epochs
    try:
        trainer = Trainer(cfg)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    sink = events.open("w") if events else None
    bar = tqdm(total=cfg.training.epochs, unit="epoch", disable=quiet, dynamic_ncols=True)
    try:
        for ev in trainer:
            if sink:
                sink.write(dumps(ev) + "\n")  # strict JSON: a diverged loss is null, never NaN
            if ev["type"] == "run_start":
                d = ev["dataset"]
                bar.write(
                    f"{d['name']} ({d['task']}, {d['n_train']} train / {d['n_val']} val) -> "
                    f"{ev['n_params']} parameters on {ev['device']}"
                )
            elif ev["type"] == "epoch" and ev["epoch"] > 0:
                score = ev.get("val_acc") if ev.get("val_acc") is not None else ev.get("val_r2")
                bar.set_postfix_str(
                    f"train {_fmt(ev['train_loss'])} val {_fmt(ev['val_loss'])} "
                    f"{'acc' if ev.get('val_acc') is not None else 'R2'} {_fmt(score)} lr {ev['lr']:.3g}",
                    refresh=False,
                )
                bar.update(1)
            elif ev["type"] == "marker" and ev["kind"] in ("early_stop", "restore_best", "diverged", "lr_change"):
                detail = {k: v for k, v in ev.items() if k not in ("type", "kind", "epoch")}
                bar.write(f"epoch {ev['epoch']}: {ev['kind']} {detail}")
            elif ev["type"] == "run_end":
                bar.close()
                s = ev["summary"]
                typer.echo(
                    f"{ev['status']} after {s['epochs_run']} epochs; best epoch {s['best_epoch']} "
                    f"(val loss {_fmt(s['best_val_loss'])}); final val loss {_fmt(s['final_val_loss'])}"
                    + (f", val acc {_fmt(s['final_val_acc'])}" if s["final_val_acc"] is not None else "")
                    + (f", val R2 {_fmt(s['final_val_r2'])}" if s["final_val_r2"] is not None else "")
                )
                if ev["message"]:
                    typer.echo(ev["message"])
    finally:
        bar.close()
        if sink:
            sink.close()
    if trainer.status in (RunStatus.DIVERGED, RunStatus.FAILED):
        raise typer.Exit(1)


def parse_vary(specs: list[str]) -> dict[str, list]:
    """`--vary PATH=V1,V2,...` options as {path: [values]}: each value read as JSON (numbers, true/false,
    lists such as [8,8]), else as a plain string (xavier)."""
    import json

    vary: dict[str, list] = {}
    for spec in specs:
        path, sep, rhs = spec.partition("=")
        if not sep or not path.strip() or not rhs.strip():
            raise typer.BadParameter(f"--vary {spec!r}: write PATH=VALUE1,VALUE2 (e.g. optimizer.lr=0.01,0.1)")
        try:
            values = json.loads(f"[{rhs}]")
        except ValueError:
            values = [v.strip() for v in rhs.split(",")]
        vary[path.strip()] = values
    return vary


@app.command()
def sweep(
    config: Path | None = typer.Argument(None, help="The base run configuration (JSON)."),
    vary: list[str] = typer.Option(..., "--vary", help="PATH=V1,V2,... (repeatable): a config field and its values."),
    mode: str = typer.Option("grid", "--mode", help="grid: every combination; zip: the i-th value of every axis."),
    preset: str | None = typer.Option(None, "--preset", "-p", help="A lesson preset as the base."),
    events: Path | None = typer.Option(
        None, "--events", help="Write every variant's events here as JSON lines (each with its `variant` index)."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Override training.epochs of the base."),
):
    """Train K variants of a configuration at once, as one stacked model, and print a table of each
    variant's values and final/best metrics."""
    from .engine.config import ConfigError
    from .engine.sweep import Sweep, expand
    from .jsonutil import dumps

    cfg = load_config(config, preset)
    if epochs is not None:
        cfg.training.epochs = epochs
    try:
        variants = expand(cfg, parse_vary(vary), mode)
        runs = Sweep([c for _, c in variants])
    except ConfigError as e:
        raise typer.BadParameter(f"{e.field}: {e.message}") from None
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    sink = events.open("w") if events else None
    bar = tqdm(total=max(c.training.epochs for _, c in variants), unit="epoch", dynamic_ncols=True)

    def write(batch: dict[int, list[dict]]) -> None:
        for k, evs in batch.items():
            for ev in evs:
                if sink:  # strict JSON: a diverged loss is null, never NaN
                    sink.write(dumps({"variant": k, **ev}) + "\n")

    try:
        write(runs.start())
        while not runs.done:
            write(runs.step())
            bar.update(1)
    finally:
        bar.close()
        if sink:
            sink.close()
    axes = list(variants[0][0])
    head = ["#", *axes, "status", "epochs", "best", "best val loss", "final val loss", "final val acc/R2"]
    rows = []
    for k, ((values, _), t) in enumerate(zip(variants, runs.trainers, strict=True)):
        s = t.summary()
        score = s["final_val_acc"] if s["final_val_acc"] is not None else s["final_val_r2"]
        rows.append(
            [str(k), *(str(values[a]) for a in axes), s["status"], str(s["epochs_run"]), str(s["best_epoch"])]
            + [_fmt(s["best_val_loss"]), _fmt(s["final_val_loss"]), _fmt(score)]
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


@app.command("presets")
def list_presets():
    """List the lesson presets."""
    from .engine import presets

    for name, p in presets.PRESETS.items():
        typer.echo(f"{name:24s} {p['title']}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for a classroom)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    db: Path = typer.Option(Path("nnplayground.db"), "--db", help="SQLite file holding runs and their history."),
    workers: int = typer.Option(0, "--workers", help="Training processes (0 = number of cores)."),
    slots: int | None = typer.Option(None, "--slots", help="Runs one worker alternates between (time slicing)."),
    queue: int | None = typer.Option(None, "--queue", help="Runs allowed to wait for a worker before 429."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    classroom: bool = typer.Option(
        False, "--classroom", help="Classroom mode: teacher role, rooms, per-student limits (prints the teacher link)."
    ),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help="Who trains runs: local (worker processes of this server, the default) or celery "
        "(`nnplayground worker` processes; needs NNPLAYGROUND_REDIS_URL). Env NNPLAYGROUND_BACKEND.",
    ),
):
    """Start the web server: REST API, websockets, and the UI at /."""
    import os
    import secrets

    import uvicorn
    from pydantic import ValidationError

    from .api import create_app
    from .service.settings import Settings

    try:
        settings = Settings.from_env(
            db_path=str(db),
            workers=workers or None,
            slots_per_worker=slots,
            queue_bound=queue,
            classroom=True if classroom else None,
            bind_host=host,
            backend=backend,
        )
    except ValidationError as e:  # a bad NNPLAYGROUND_* value or option: say which, no traceback
        _settings_errors(e, "serve")
    from .service.db import to_url

    shown_db = to_url(settings.database_url).render_as_string(hide_password=True) if settings.database_url else db
    if settings.backend == "celery":
        _need_redis(settings)
        from kombu.utils.url import maybe_sanitize_url  # Celery's own banner hides it the same way

        shown_redis = maybe_sanitize_url(settings.redis_url)  # a password (requirepass) never in the log
        typer.echo(f"nnplayground: http://{host}:{port}/  (db {shown_db}, Celery workers via {shown_redis})")
    else:
        typer.echo(f"nnplayground: http://{host}:{port}/  (db {shown_db}, {settings.workers} workers)")
        if settings.redis_url:  # shared state: a sign of several web processes, which this backend cannot serve
            typer.echo(
                "nnplayground: note: with the local backend each web process trains only its own runs and marks "
                "every active run in the store interrupted when it starts or stops; several web processes need "
                "--backend celery (docs/distributed.md)",
                err=True,
            )
    from .service.shared_state import missing_shared_secret

    refused = missing_shared_secret(settings)
    if refused:  # several web processes: a random teacher secret would differ in each
        typer.echo(f"nnplayground: {refused}", err=True)
        raise typer.Exit(2)
    if settings.classroom:
        if not settings.teacher_secret:
            settings.teacher_secret = secrets.token_urlsafe(18)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        typer.echo(f"classroom mode: students open http://<this machine's address>:{port}/ and join with a room code")
        if os.environ.get("NNPLAYGROUND_TEACHER_SECRET"):
            # whoever set it knows it; a terminal, a container log or a screen share need not see it
            typer.echo(f"teacher link: http://{shown}:{port}/teacher#key=<the value of NNPLAYGROUND_TEACHER_SECRET>")
        else:
            # the secret travels in the URL fragment, which browsers never send to the server (so it is in no log)
            typer.echo(f"teacher link (keep it private): http://{shown}:{port}/teacher#key={settings.teacher_secret}")

    class Server(uvicorn.Server):
        """uvicorn's server, telling the app before it closes the open sockets (with 1012): viewers get
        a final `status` frame for the runs the shut-down interrupts."""

        async def shutdown(self, sockets=None) -> None:
            for server in self.servers:  # no new connection or run while the runs are settled
                server.close()
            hook = getattr(app.state, "before_shutdown", None)
            if hook is not None and not self.force_exit:
                try:
                    await asyncio.wait_for(hook(), timeout=10)
                except Exception:  # noqa: BLE001 - the shut-down goes on whatever happened
                    logging.getLogger("nnplayground.api").exception("before shutdown")
            await super().shutdown(sockets=sockets)

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws_max_size=max(settings.max_message_size * 4, 1 << 20),
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
    )
    Server(config).run()


def _settings_errors(e: ValidationError, command: str):
    """A bad NNPLAYGROUND_* value or option: say which, no traceback (exit 2)."""
    for err in e.errors():
        name = "NNPLAYGROUND_" + str(err["loc"][0]).upper()
        typer.echo(f"nnplayground: {name} (or its {command} option): {err['msg']}", err=True)
    raise typer.Exit(2) from None


def _need_redis(settings) -> None:
    if not settings.redis_url:
        typer.echo(
            "nnplayground: the celery backend needs Redis: set NNPLAYGROUND_REDIS_URL (e.g. redis://127.0.0.1:6379/0)",
            err=True,
        )
        raise typer.Exit(2)


@app.command()
def worker(
    concurrency: int = typer.Option(0, "--concurrency", "-c", help="Runs trained at once (0 = number of cores)."),
    hostname: str | None = typer.Option(None, "--hostname", "-n", help="This worker's name (default: celery@host)."),
    db: Path | None = typer.Option(
        None, "--db", help="SQLite file of the run store (when NNPLAYGROUND_DATABASE_URL is not set)."
    ),
    log_level: str = typer.Option("warning", "--log-level", help="Celery log level."),
):
    """A Celery worker of the distributed backend (`serve --backend celery`): it trains the runs the web
    processes queue, with the settings of docs/distributed.md (late acks, no prefetch, one torch thread
    per child). Needs NNPLAYGROUND_REDIS_URL, and the web processes' store (NNPLAYGROUND_DATABASE_URL or --db)."""
    import os

    from .service.settings import Settings

    if db is not None:  # the pool children read their settings from the environment
        os.environ["NNPLAYGROUND_DB_PATH"] = str(db)
    try:
        settings = Settings.from_env()
    except ValidationError as e:
        _settings_errors(e, "worker")
    _need_redis(settings)
    from .service.celery_app import QUEUE
    from .service.celery_app import app as celery

    argv = ["worker", "-P", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    argv += ["-c", str(concurrency or settings.workers), "-Q", QUEUE, "--loglevel", log_level.upper()]
    if hostname:
        argv += ["-n", hostname]
    celery.worker_main(argv)


db_app = typer.Typer(no_args_is_help=True, help="The run database: schema migrations.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    db: Path | None = typer.Option(
        None, "--db", help="SQLite file (default NNPLAYGROUND_DB_PATH, else nnplayground.db)."
    ),
    revision: str = typer.Option("head", "--revision", help="Alembic revision to upgrade to."),
):
    """Bring the run database (NNPLAYGROUND_DATABASE_URL, else the SQLite file) to the newest schema.
    `serve` does this at start too; a deployment with several processes runs it once, before them."""
    from sqlalchemy.exc import SQLAlchemyError

    from .service.db import database_url, to_url
    from .service.migrate import upgrade
    from .service.settings import Settings

    try:
        settings = Settings.from_env(db_path=str(db) if db else None)
    except ValidationError as e:
        _settings_errors(e, "db upgrade")
    url = database_url(settings)
    shown = to_url(url).render_as_string(hide_password=True)
    try:
        at = upgrade(url, revision)
    except SQLAlchemyError as e:  # unreachable server, bad credentials, a locked file: say so, no traceback
        why = getattr(e, "orig", None) or e
        typer.echo(f"nnplayground: cannot upgrade {shown}: {e.__class__.__name__}: {why}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"nnplayground: {shown} is at revision {at}")


def main():
    app()


if __name__ == "__main__":
    main()
