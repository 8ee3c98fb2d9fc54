"""Handlers for teachers: their exams and the links students need."""
