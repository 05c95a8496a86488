"""Softphones at the agent's desk: call events in, call commands out.

Two ways in: baresip's ``ctrl_tcp`` module (netstring-framed JSON; :mod:`.baresip`),
used by the desk agent on the agent's PC (``medlytt desk --baresip``) or by the core
directly (``[softphone.baresip."PJSIP/1001"]``); and an HTTP webhook for softphones that call a URL
on call events (:mod:`.webhook`).  Both end as ``softphone.call`` events
(:class:`.events.SoftphoneCall`) for the agent the phone belongs to.  docs/desk.md.
"""
