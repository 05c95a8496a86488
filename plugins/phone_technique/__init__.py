"""Competence module 2, phone technique (telefonteknikk): per-call facts from events."""
