"""Asterisk gateway: ARI/AMI translation and the Asterisk 22 sandbox used to test it."""
