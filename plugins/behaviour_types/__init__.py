"""Behaviour types (module 5, adferdstyper): the listener tags the customer's behaviour type
on a call, Medlytt measures whether agent and customer mirror each other's turn lengths,
and shows per agent how each type's calls go (docs/behaviour-types.md)."""
