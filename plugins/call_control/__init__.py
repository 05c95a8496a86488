"""Competence module 3, call control (samtalestyring): who talks when, from talk detection."""
