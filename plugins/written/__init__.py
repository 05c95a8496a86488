"""Written communication (module 7, skriftlig kommunikasjon): agents' e-mails, case notes and
chat texts scored for readability (LIX) and passive voice, a form for templates, and each
agent's trend (docs/written-communication.md)."""
