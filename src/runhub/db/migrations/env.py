"""Alembic environment: the engine comes from runhub.db.migrate via config.attributes."""

from alembic import context

from runhub.db.schema import metadata

engine = context.config.attributes["engine"]

with engine.connect().execution_options(write=True) as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
