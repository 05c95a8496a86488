"""The ``[asterisk]`` config section: how Medlytt reaches the PBX (documented in
docs/install-asterisk.md)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


class AsteriskSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[asterisk]``: ARI (REST + WebSocket) and AMI of one Asterisk.

    The gateway runs when ``ari_url`` is set; otherwise Medlytt falls back to the demo.
    Several PBXs are named instances of the same section, ``[asterisk.oslo]``,
    ``[asterisk.bergen]``: one gateway each (docs/install-asterisk.md).
    """

    named_instances: ClassVar[bool] = True

    #: Base URL of Asterisk's HTTP server, without ``/ari`` (``http://127.0.0.1:8088``); the
    #: gateway runs when it is set, else the demo runs.
    ari_url: str = ""
    #: The ``ari.conf`` user; sent in an ``Authorization`` header, never in a URL.
    ari_user: str = "medlytt"
    #: Its password; required with ``ari_url`` (a secret: give it by reference).
    ari_password: str = ""
    #: The ARI (Stasis) application name Medlytt registers.
    app: str = "medlytt"
    #: Where AMI (the manager interface) listens.
    ami_host: str = "127.0.0.1"
    #: The AMI port (``port`` in ``manager.conf``).
    ami_port: Port = 5038
    #: The ``manager.conf`` user.
    ami_user: str = "medlytt"
    #: Its secret; required with ``ari_url`` (give it by reference).
    ami_secret: str = ""
    #: Display names of agents by queue member interface: ``"PJSIP/1001" = "Ingrid Berg"``.
    agents: dict[str, str] = msgspec.field(default_factory=dict)
    #: Timeout of every ARI request and AMI action.
    request_timeout_seconds: Positive = 5.0
    #: Longest wait between reconnection attempts (exponential backoff with jitter).
    reconnect_max_seconds: Positive = 8.0

    def __post_init__(self) -> None:
        if not self.ari_url:
            return
        if not self.ari_url.startswith(("http://", "https://")):
            scheme = self.ari_url.split("://", 1)[0] if "://" in self.ari_url else "no scheme"
            raise ValueError(f"ari_url must start with http:// or https://, not {scheme}")
        if "@" in self.ari_url.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError("ari_url must not contain credentials; set ari_user and ari_password")
        for key in ("ari_password", "ami_secret"):
            if not getattr(self, key):
                raise ValueError(f"{key} is required when ari_url is set")

    @property
    def configured(self) -> bool:
        return bool(self.ari_url)
