"""``python -m medlytt.gateways.asterisk.sandbox ...``: the CLI without ``medlytt``'s own."""

from .cli import sandbox

sandbox()
