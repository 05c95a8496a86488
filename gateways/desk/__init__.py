"""The agent's desk: headset and softphone events from many desktops to the core.

``medlytt desk`` runs on an agent's PC (:mod:`.agent`): it reads the headset (through
``medlytt.hardware`` when installed) and the local softphone (baresip's ctrl_tcp) and
sends their events over ZeroMQ, encrypted and authenticated with CURVE (:mod:`.link`).
The core's ``desk`` gateway (:mod:`.receiver`) accepts only listed desk keys, ties each to
an agent and publishes the events; :mod:`.join` joins them to the PBX's calls.
docs/desk.md.
"""
