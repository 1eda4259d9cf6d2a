"""Alembic's environment for the run database (SQLite or PostgreSQL). `service/migrate.py` runs it with
an open connection (`config.attributes["connection"]`, inside its transaction and lock); the alembic
command line can run it too, with `-x url=...` or `sqlalchemy.url`. No ORM metadata: the revisions in
versions/ spell the schema out, so that an old revision never changes with today's code."""

from alembic import context
from nnplayground.service.db import make_engine, to_url

config = context.config


def run(connection) -> None:
    # SQLite alters a table by copying it (batch mode); PostgreSQL alters in place
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")


if context.is_offline_mode():  # `alembic upgrade head --sql`: the SQL, for a database administrator
    context.configure(url=to_url(url()), literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
elif (conn := config.attributes.get("connection")) is not None:
    run(conn)
else:
    engine = make_engine(to_url(url()), pool_size=1)
    try:
        with engine.begin() as c:
            run(c)
    finally:
        engine.dispose()
