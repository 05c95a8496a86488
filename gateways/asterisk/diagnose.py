"""What a failed connection to Asterisk means and how to fix it: one wording for the gateway's
log and for ``medlytt doctor``.

Why one place: a user who sees ``404 Resource not found`` in the log and then runs the doctor
must read the same fix in both.  Also the Asterisk versions with defects that touch Medlytt.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from .ami import AmiError
from .ari import AriError
from .settings import AsteriskSettings

#: Asterisk issues that touch Medlytt: (first affected, first fixed, issue, what breaks).
#: Versions compare as (major, minor); ``None`` is open-ended.  Only Asterisk 22, the major
#: Medlytt is tested with, is listed: for others the doctor claims nothing.
DEFECTS: tuple[tuple[tuple[int, int] | None, tuple[int, int] | None, int, str], ...] = (
    (
        (22, 0),
        (22, 11),
        1966,
        "whisper into a channel that receives no audio is silent: a supervisor's whisper may "
        "not reach the agent (fixed in 22.11.0)",
    ),
    (
        (22, 11),
        (22, 12),
        2134,
        "channels that were spied on (monitored) can fail to be bridged afterwards",
    ),
)

_VERSION = re.compile(r"(\d+)\.(\d+)")


def version_defects(version: str) -> list[tuple[int, str]]:
    """The known defects (issue number, what breaks) of Asterisk ``version`` ("22.10.1")."""
    match = _VERSION.search(version)
    if match is None:
        return []
    found = (int(match.group(1)), int(match.group(2)))
    return [
        (issue, what)
        for first, fixed, issue, what in DEFECTS
        if (first is None or found >= first) and (fixed is None or found < fixed)
    ]


def base_url_without_ari(ari_url: str) -> str | None:
    """``ari_url`` without a trailing ``/ari`` when it has one (the common mistake), else None."""
    parts = urlsplit(ari_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/ari"):
        return None
    return urlunsplit((parts.scheme, parts.netloc, path[: -len("/ari")], "", ""))


def ari_fix(error: AriError, settings: AsteriskSettings) -> str:
    """What to change when an ARI request of the gateway or the doctor failed."""
    host = urlsplit(settings.ari_url).netloc
    base = base_url_without_ari(settings.ari_url)
    if error.status == 404 and base is not None:
        return (
            f'ari_url must be the HTTP server\'s base, without /ari: ari_url = "{base}" '
            "(Medlytt adds /ari itself)"
        )
    if error.status == 404:
        return (
            f"no ARI at {settings.ari_url}/ari: set ari_url to Asterisk's HTTP server as in "
            'http.conf (e.g. "http://127.0.0.1:8088", with http.conf\'s prefix if it has one) '
            "and enable ARI (ari.conf [general] enabled = yes)"
        )
    if error.status == 401:
        return (
            f"ARI refused user {settings.ari_user!r}: ari_user and ari_password must be a user "
            "section of ari.conf (type = user, password = ...); after changing ari.conf run "
            "'module reload res_ari.so' in the Asterisk CLI"
        )
    if error.status == 403:
        return (
            f"ARI user {settings.ari_user!r} may not do this: set read_only = no for it in "
            "ari.conf (monitoring, surveys and mystery calls originate, snoop and play)"
        )
    if error.status is None and "no answer within" in error.reason:
        return (
            f"{host} does not answer in time: check that Asterisk runs and that ari_url "
            "names its HTTP server (http.conf bindaddr and bindport), not another service"
        )
    if error.status is None:
        return (
            f"nothing answers at {host}: check that Asterisk runs, that http.conf has "
            "enabled = yes with bindaddr and bindport matching ari_url, and that no firewall "
            "is in between"
        )
    return "see Asterisk's log (messages) for why it refused the request"


def ami_fix(error: AmiError, settings: AsteriskSettings) -> str:
    """What to change when the AMI connection of the gateway or the doctor failed."""
    where = f"{settings.ami_host}:{settings.ami_port}"
    if error.kind == "unreachable":
        return (
            f"check that Asterisk runs and that manager.conf [general] has enabled = yes with "
            f"port and bindaddr matching ami_host and ami_port ({where}), and that no firewall "
            "is in between"
        )
    if error.kind == "not_ami":
        return (
            f"{where} is another service: ami_port must be manager.conf's port (5038 by "
            "default), not the HTTP port of ari_url"
        )
    if error.kind == "login":
        return (
            f"ami_user {settings.ami_user!r} and ami_secret must be a user section of "
            "manager.conf ([medlytt] secret = ...) whose permit/deny lets this host in; after "
            "changing manager.conf run 'manager reload' in the Asterisk CLI"
        )
    return "see Asterisk's log (messages) for why it closed the connection"


def explain(error: Exception, settings: AsteriskSettings) -> str:
    """``error`` followed by its fix, for a log line or a doctor's finding."""
    if isinstance(error, AriError):
        return f"{error}; fix: {ari_fix(error, settings)}"
    if isinstance(error, AmiError) and error.kind:
        return f"{error}; fix: {ami_fix(error, settings)}"
    return str(error)


def needs_the_user(error: Exception) -> bool:
    """Will retrying never help until someone changes a config (URL, password, port)?"""
    if isinstance(error, AriError):
        return error.status in (401, 403, 404)
    return isinstance(error, AmiError) and error.kind in ("login", "not_ami")
