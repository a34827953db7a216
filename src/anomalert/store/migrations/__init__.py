"""Alembic migrations of the store; :func:`anomalert.store.engine.upgrade` runs them."""
