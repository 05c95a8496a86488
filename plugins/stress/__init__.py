"""Stress management (module 6, stressmestring): stress signals from the calls themselves,
alerts to the agent's leader, and a personal development plan per agent (docs/stress.md)."""
