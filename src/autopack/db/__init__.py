"""Storage: engine, models and the Alembic-managed schema."""
