"""Post-call keypress surveys: the caller rates the call on the keypad after the agent hangs up."""
