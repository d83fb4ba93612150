"""Persistence: SQLAlchemy models, query functions, the outbox, the filter language's SQL compiler, errors, migrations."""
