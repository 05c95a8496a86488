"""Devices at the agent's desk: headsets, phones and busylights (USB HID, softphones)."""
