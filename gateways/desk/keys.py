"""CURVE key pairs for desks and the core: made by ``medlytt keys``, read by both sides.

The files use ZeroMQ's certificate format (what ``zmq.auth.load_certificate`` reads):
``NAME.key`` holds the public key only and may be handed around; ``NAME.key_secret``
holds both and never leaves its machine.  Both are created with mode 0600, and a secret
file that others may read is refused, as ssh refuses a private key: a desk's secret is
what lets it speak for its agent.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import zmq
import zmq.auth

Z85_KEY_LENGTH = 40
_Z85 = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


class KeyFileError(ValueError):
    """A key file is missing, unreadable, malformed or too open; the message says which."""


def check_public_key(key: str, where: str = "public key") -> None:
    if len(key) != Z85_KEY_LENGTH or not set(key) <= _Z85:
        raise ValueError(
            f"{where}: {key[:8]!r}... is not a CURVE public key "
            f"({Z85_KEY_LENGTH} Z85 characters, as `medlytt keys` prints)"
        )


def _certificate(public: bytes, secret: bytes | None) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    kind = "Secret" if secret else "Public"
    lines = [
        f"#   ****  Generated on {made} by medlytt keys  ****",
        f"#   ZeroMQ CURVE **{kind}** Certificate",
        *(
            ["#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."]
            if secret
            else []
        ),
        "",
        "metadata",
        "curve",
        f'    public-key = "{public.decode()}"',
        *([f'    secret-key = "{secret.decode()}"'] if secret else []),
        "",
    ]
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)  # whatever the umask said


def make_key_pair(folder: Path, name: str, *, force: bool = False) -> tuple[Path, Path, str]:
    """Write ``NAME.key`` and ``NAME.key_secret`` into ``folder``; return both paths and
    the public key (the secret is never returned, so it cannot be printed by mistake)."""
    if not name or "/" in name or name.startswith("."):
        raise KeyFileError(f"key name {name!r} must be a plain file name")
    folder.mkdir(parents=True, exist_ok=True)
    public_path, secret_path = folder / f"{name}.key", folder / f"{name}.key_secret"
    for path in (public_path, secret_path):
        if path.exists():
            if not force:
                raise KeyFileError(f"{path} exists; pass --force to replace the key pair")
            path.unlink()
    public, secret = zmq.curve_keypair()
    _write_private(secret_path, _certificate(public, secret))
    _write_private(public_path, _certificate(public, None))
    return public_path, secret_path, public.decode()


def load_secret_key(path: str | Path) -> tuple[bytes, bytes]:
    """(public, secret) from a ``.key_secret`` file that only its owner may read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise KeyFileError(f"key file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"key file {path} may be read by others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    public, secret = _load(path)
    if not secret:
        raise KeyFileError(f"key file {path} holds no secret key; use NAME.key_secret")
    return public, secret


def load_public_key(path: str | Path) -> bytes:
    """The public key in a key file (``NAME.key`` or ``NAME.key_secret``)."""
    return _load(Path(path))[0]


def _load(path: Path) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyFileError(
            f"key file {path} is not a key made by `medlytt keys` ({exc.__class__.__name__})"
        ) from None
    if public is None or len(public) != Z85_KEY_LENGTH:
        raise KeyFileError(f"key file {path} holds no public key")
    if secret is not None and len(secret) != Z85_KEY_LENGTH:
        raise KeyFileError(f"key file {path} holds a malformed secret key")
    return public, secret
