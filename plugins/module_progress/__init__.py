"""Module progress: per team, each competence module's period, the activities done in it
against the monitoring plan, and the module's measures month by month
(docs/module-progress.md)."""
