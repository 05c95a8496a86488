"""The module progress plugin (docs/module-progress.md)."""
