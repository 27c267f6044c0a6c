"""Alembic environment: runs on the connection the store hands over in ``config.attributes``.

From the command line (``alembic revision --autogenerate``) it opens ``sqlalchemy.url``.
"""

from alembic import context
from sqlalchemy import create_engine

from plinth._store.schema import metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
