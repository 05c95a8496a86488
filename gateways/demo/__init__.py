"""The built-in demo contact center: a simulated PBX so a fresh install shows live data."""
