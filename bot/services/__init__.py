"""Use cases: combine the data layer, the rules and sending; no handlers, no keyboards."""
