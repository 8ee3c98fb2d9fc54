"""Handlers for the dean's office: imports and the deanery chat."""
