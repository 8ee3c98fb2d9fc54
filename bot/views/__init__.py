"""Rendering: what the bot says, built from the data services return. Escaping, paging and
splitting live here so that no handler or service does them by hand."""
