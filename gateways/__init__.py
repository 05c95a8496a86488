"""Gateways: translate a telephony system (Asterisk, ...) into Medlytt events; they never decide."""
