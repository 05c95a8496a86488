"""Supervisor monitoring: listen to, whisper in or barge into live calls, with an audit trail."""
