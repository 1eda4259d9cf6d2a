"""Runs name the worker that claimed them (`Store.claim_run`): its host name and process id, so that a
run whose worker is gone can be found.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as b:
        b.add_column(sa.Column("worker", sa.Text))
        b.add_column(sa.Column("worker_pid", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("runs") as b:
        b.drop_column("worker_pid")
        b.drop_column("worker")
