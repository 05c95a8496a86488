"""Plugins used by the tests to prove isolation; loaded with ``plugins.modules``."""
