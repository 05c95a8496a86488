"""A blocking ARI client, standard library only (the gateway's own client is asyncio)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from .messages import SandboxError


class AriClient:
    """The few blocking ARI calls the sandbox needs; credentials go in a header, never a URL."""

    def __init__(self, port: int, user: str, password: str, timeout: float = 5.0) -> None:
        self.base = f"http://127.0.0.1:{port}/ari"
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None
        headers = dict(self._headers)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise SandboxError(f"ARI {method} {path}: HTTP {exc.code} {detail}") from None
        return json.loads(payload) if payload else None
