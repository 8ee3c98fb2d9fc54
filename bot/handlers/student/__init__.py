"""Handlers for students: schedule, calendar file, time zone."""
