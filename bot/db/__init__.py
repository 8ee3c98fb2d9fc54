"""Data layer: SQLAlchemy models, repositories, migrations and the engine."""
