"""The web console: wallboard, live monitoring, mystery calls and each agent's own page,
served by Medlytt itself (docs/console.md)."""
