"""Alembic environment: reuse the connection the store passes, or open the configured URL.

``Store.open`` passes its connection in ``config.attributes["connection"]``, so migrations run
inside the store's own transaction and on the same SQLite connection (an in-memory database
would otherwise be a different, empty one). The ``alembic`` command line can still be used
with ``-x url=...`` or ``sqlalchemy.url``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from anomalert.store.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Online migrations only: the store always has a live database."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database: pass -x url=... or set sqlalchemy.url")
    from anomalert.store.engine import create_engine, normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if hasattr(context, "config"):  # run by Alembic, not imported by doctest collection
    run_migrations()
