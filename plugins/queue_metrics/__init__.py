"""Live queue metrics for Prometheus: calls, waits, talk and wrap-up times, agents."""
