"""Loopback ports: free ones for a new instance, whether one is taken, AMI's banner."""

from __future__ import annotations

import contextlib
import socket


def free_ports() -> tuple[int, int, int]:
    """Two free TCP ports (ARI/HTTP, AMI) and a free UDP port (SIP) on 127.0.0.1.

    For test sessions and benchmarks that run their own instance beside any other.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for kind in (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM):
            sock = stack.enter_context(socket.socket(socket.AF_INET, kind))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports[0], ports[1], ports[2]


def port_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ami_banner(port: int, timeout: float = 2.0) -> str:
    """The first line AMI sends on connect, e.g. ``Asterisk Call Manager/11.0.0``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")
