"""Alembic environment: newsmon passes its engine in `config.attributes`.

Every migration of one upgrade runs in one transaction, on both databases: a process killed
while it creates or upgrades the schema leaves the database as it was, never tables without a
revision (which would refuse every later crawl).
"""

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url", "")
)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so each CREATE
        # would commit on its own: open one explicitly, around everything.
        connection.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
    with connection.begin():
        if sqlite:
            connection.exec_driver_sql("BEGIN")
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
        )
        context.run_migrations()
