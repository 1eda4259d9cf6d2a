"""Baseline: the schema of the last release before Alembic (the runs with every column added since the
first release, per-epoch metrics, thinned views, markers, checkpoints, sweeps, and the classroom
tables), on SQLite or PostgreSQL. A database file written before Alembic is brought to exactly this
and stamped by `service/migrate.py` instead of running it.

Markers gain an `id` (their order of arrival; SQLite's rowid before, which PostgreSQL has not).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}  # tables keyed by their primary key (SQLite's WITHOUT ROWID)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("client", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("info", sa.Text),
        sa.Column("summary", sa.Text),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("epochs_run", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("best_epoch", sa.Integer),
        sa.Column("best_val_loss", sa.Float),
        sa.Column("speed", sa.Float, nullable=False, server_default=sa.text("0")),
        sa.Column("final_state", sa.LargeBinary),
        sa.Column("brief", sa.Text),
        sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("sweep_id", sa.Text),
    )
    op.create_index("runs_status", "runs", ["status", "created_at"])
    op.create_index("runs_created", "runs", ["created_at"])
    op.create_index("runs_client", "runs", ["client", "status"])
    op.create_index("runs_sweep", "runs", ["sweep_id"])
    op.create_table(
        "metrics",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("epoch", sa.Integer, primary_key=True),
        sa.Column("record", sa.Text, nullable=False),
        **NO_ROWID,
    )
    op.create_table(
        "views",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("epoch", sa.Integer, primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        **NO_ROWID,
    )
    op.create_table(
        "markers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("markers_run", "markers", ["run_id", "epoch"])
    op.create_table(
        "checkpoints",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("epoch", sa.Integer, primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),
        **NO_ROWID,
    )
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("client", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
    )
    op.create_index("sweeps_client", "sweeps", ["client", "created_at"])
    # classroom mode (service/tokens.py, service/rooms.py)
    op.create_table(
        "classroom_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        **NO_ROWID,
    )
    op.create_table(
        "teacher_sessions",
        sa.Column("digest", sa.Text, primary_key=True),  # sha256 of the cookie's token (never the token)
        sa.Column("secret_tag", sa.Text, nullable=False),  # which teacher secret opened it
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        **NO_ROWID,
    )
    op.create_table(
        "rooms",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("closed_at", sa.Float),
        sa.Column("showing", sa.Text),
        sa.Column("lesson", sa.Text),
        **NO_ROWID,
    )
    op.create_table(
        "room_members",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("client", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("joined_at", sa.Float, nullable=False),
        **NO_ROWID,
    )
    op.create_index("room_members_client", "room_members", ["client", "joined_at"])
    op.create_table(
        "room_removed",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("client", sa.Text, primary_key=True),
        **NO_ROWID,
    )


def downgrade() -> None:
    for table in (
        "room_removed", "room_members", "rooms", "teacher_sessions", "classroom_meta",
        "sweeps", "checkpoints", "markers", "views", "metrics", "runs",
    ):  # fmt: skip
        op.drop_table(table)
