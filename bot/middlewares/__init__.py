"""Outer middlewares: a database session per update, who the user is, their language."""
