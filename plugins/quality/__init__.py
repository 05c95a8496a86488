"""Quality evaluation: forms, evaluations the agent sees, monitoring plans, calibration."""
