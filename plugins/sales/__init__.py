"""Sales and negotiation (module 4, salg og forhandling): each call's wrap-up outcome (sale,
agreement, no sale and why) from the agent, the softphone or a CRM, conversion per agent and
queue, and the Johari-window listening form (docs/sales.md)."""
