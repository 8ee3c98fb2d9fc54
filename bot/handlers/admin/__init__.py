"""Handlers for administrators (and deans, where the regulation lets them): invites."""
