"""Attitude (module 1, holdninger): 360° colleague feedback rounds, anonymous to the agent
who receives them, and a weekly well-being check-in per team shown only as aggregates
(docs/attitude.md)."""
