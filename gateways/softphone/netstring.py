"""Netstrings (``LEN:DATA,``), the framing of baresip's ``ctrl_tcp``.

A decoder of its own because a TCP read may end anywhere inside a frame, and a peer that
sends a malformed length must be refused instead of making us buffer without end.
"""

from __future__ import annotations

MAX_FRAME = 1 << 20
"""The largest frame accepted (1 MiB): baresip's messages are a few hundred bytes."""


class NetstringError(ValueError):
    """The byte stream is not a netstring stream; the message says where it broke."""


def encode(data: bytes) -> bytes:
    """One netstring frame holding ``data``."""
    return b"%d:%s," % (len(data), data)


class NetstringDecoder:
    """Feed bytes as they arrive; get every complete frame's payload back, in order."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        frames: list[bytes] = []
        while True:
            colon = self._buffer.find(b":")
            if colon < 0:
                if len(self._buffer) > len(str(self.max_frame)):
                    raise NetstringError("no ':' after a frame length")
                return frames
            length = bytes(self._buffer[:colon])
            if not length.isdigit() or (len(length) > 1 and length.startswith(b"0")):
                raise NetstringError(f"frame length {length[:20]!r} is not a decimal number")
            size = int(length)
            if size > self.max_frame:
                raise NetstringError(f"frame of {size} bytes is over the {self.max_frame} limit")
            end = colon + 1 + size
            if len(self._buffer) < end + 1:
                return frames
            if self._buffer[end] != ord(","):
                raise NetstringError("frame does not end with ','")
            frames.append(bytes(self._buffer[colon + 1 : end]))
            del self._buffer[: end + 1]
