"""Configuration: one TOML file, every key overridable by environment variables.

* ``--config medlytt.toml`` (or none: defaults everywhere, the demo runs).
* ``MEDLYTT_<SECTION>__<KEY>=value`` overrides ``[section] key``; deeper tables add more
  ``__`` parts (``MEDLYTT_DEMO__SEED=7``).  Values are read as strings and converted to
  the declared type; ``[a, b]`` and ``{...}`` are read as TOML.
* A secret may be given by reference instead of inline: ``ami_secret = { "$env" = "AMI_SECRET" }``
  or ``{ "$file" = "/run/secrets/ami" }``.  Secrets are redacted wherever config is shown.
* Core sections are ``[server]``, ``[storage]``, ``[plugins]``, ``[logging]`` and
  ``[recordings]``; every other section belongs to the plugin of that name and is
  validated by the plugin's schema (hook ``medlytt_config_schema``).  Each plugin section
  accepts ``enabled = false``.

Validation happens at start: an unknown key, a wrong type or an unreadable file raises
:class:`ConfigError`, which the CLI turns into exit status 2 and one clear message naming
the key, what is expected and where the value came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

ENV_PREFIX = "MEDLYTT_"
SECRET_KEY = re.compile(r"(password|secret|token|passphrase)", re.IGNORECASE)
REDACTED = "***"

S = TypeVar("S", bound=msgspec.Struct)

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class ServerConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``[server]``: where the HTTP server (API, ``/metrics``, health) listens."""

    #: Listen address of the HTTP server (``/metrics``, ``/api``, health).
    host: str = "127.0.0.1"
    #: Listen port; ``0`` picks a free one (the chosen address is printed).
    port: Port = 8470
    #: When set, ``/metrics`` needs it as a bearer token or basic-auth password (the
    #: ``authorization`` or ``basic_auth`` settings of a Prometheus scrape config).
    metrics_token: str = ""
    #: A web console session ends after this many minutes without a request.
    session_idle_minutes: PositiveFloat = 30.0
    #: Trust ``X-Forwarded-Proto: https`` from a TLS-terminating proxy in front of Medlytt
    #: (the console's cookie is then marked Secure).  Only when every request comes
    #: through that proxy.
    trust_forwarded_proto: bool = False


class StorageConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``[storage]``: the SQLite file and how the event journal batches its writes."""

    #: The SQLite file (WAL mode); created with its folder if missing.
    path: str = "medlytt.db"
    #: Append every event to the ``events`` table (the journal behind ``/api/events``).
    journal: bool = True
    #: Write the journal as soon as this many events wait ...
    journal_batch_size: PositiveInt = 500
    #: ... or after this long; a clean stop always writes the rest.
    journal_flush_seconds: PositiveFloat = 0.5


class PluginsConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``[plugins]``: how plugins are loaded and isolated."""

    #: Extra plugin modules by import name, for plugins not installed as packages.
    modules: list[str] = msgspec.field(default_factory=list)
    #: An async hook taking longer is cancelled and counted as an error.
    hook_timeout_seconds: PositiveFloat = 5.0
    #: Consecutive failures that open a plugin's circuit breaker.
    breaker_failures: PositiveInt = 5
    #: How long an open breaker skips the plugin before one trial call.
    breaker_reset_seconds: PositiveFloat = 60.0
    #: Events queued per plugin before new ones are dropped (and counted).
    mailbox_size: PositiveInt = 10_000


class LoggingConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``[logging]``: level and format of Medlytt's log on stderr."""

    #: The least severe messages logged.
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: ``text`` for people, ``json`` for log collectors (one object per line).
    format: Literal["text", "json"] = "text"


#: Days a recording is kept, by the plugin that recorded it (``default``: any other).
DEFAULT_RETENTION_DAYS = {"default": 30, "monitoring": 30, "mystery_calls": 90}
#: A retention in days: at least one, at most a hundred years.
Days = Annotated[int, msgspec.Meta(ge=1, le=36_500)]


class RecordingsConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``[recordings]``: how long recordings are kept, and the job that deletes them."""

    #: Days by source (the plugin that recorded); a source not given keeps its default,
    #: ``default`` covers every source not named.
    retention_days: dict[str, Days] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS)
    )
    #: Days for a recording linked to an evaluation (``medlytt.link_evaluation``), when
    #: longer than its source's.
    evaluated_retention_days: Days = 365
    #: How often the deletion job runs (it also runs at start).
    delete_every_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 60
    #: At most this many recordings deleted per run (a backlog is cleared in runs a second
    #: apart).
    delete_batch: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 500

    def __post_init__(self) -> None:
        if "" in self.retention_days:
            raise ValueError("retention_days: a source name may not be empty")
        self.retention_days = {**DEFAULT_RETENTION_DAYS, **self.retention_days}

    def days_for(self, source: str | None, evaluated: bool) -> int:
        """How many days a recording of ``source`` is kept (longer once evaluated)."""
        days = self.retention_days.get(source or "", self.retention_days["default"])
        return max(days, self.evaluated_retention_days) if evaluated else days


class CoreConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The core's own sections."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    plugins: PluginsConfig = msgspec.field(default_factory=PluginsConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    recordings: RecordingsConfig = msgspec.field(default_factory=RecordingsConfig)


CORE_SECTIONS: tuple[str, ...] = tuple(CoreConfig.__struct_fields__)


class ConfigError(ValueError):
    """The configuration is wrong; the message names the key and what is expected."""


def time_zone(name: str, key: str = "time_zone") -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming ``key`` otherwise (for a plugin
    schema's ``__post_init__``: the config loader adds the section and the origin)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        # OSError: a folder of the zone database ("Europe") is not a zone.
        raise ValueError(
            f"{key} {name!r} is not a time zone name such as 'Europe/Oslo' or 'UTC'"
        ) from None


#: A named instance of a plugin section: ``[asterisk.oslo]``.
INSTANCE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Instances(Generic[S]):
    """A plugin section with named instances: ``[asterisk]`` (``default``) and
    ``[asterisk.oslo]``, ``[asterisk.bergen]`` (``named``), each validated by the same
    schema (e.g. several PBXs in one Medlytt)."""

    default: S
    named: dict[str, S]


class Config:
    """The loaded configuration: validated core sections plus raw plugin sections."""

    def __init__(
        self, data: dict[str, Any], origins: dict[str, str], path: Path | None = None
    ) -> None:
        self.path = path
        self._data = data
        self._origins = origins
        core_data = {k: v for k, v in data.items() if k in CORE_SECTIONS}
        self.core: CoreConfig = convert(core_data, CoreConfig, origins=origins)

    @property
    def server(self) -> ServerConfig:
        return self.core.server

    @property
    def storage(self) -> StorageConfig:
        return self.core.storage

    @property
    def plugins(self) -> PluginsConfig:
        return self.core.plugins

    @property
    def logging(self) -> LoggingConfig:
        return self.core.logging

    @property
    def recordings(self) -> RecordingsConfig:
        return self.core.recordings

    def plugin_sections(self) -> dict[str, dict[str, Any]]:
        """The raw sections that are not core sections (one per plugin)."""
        return {k: v for k, v in self._data.items() if k not in CORE_SECTIONS}

    def plugin_enabled(self, name: str) -> bool:
        """A plugin is enabled unless its section says ``enabled = false``."""
        section = self._data.get(name, {})
        enabled = section.get("enabled", True) if isinstance(section, dict) else True
        if isinstance(enabled, str):
            enabled = _parse_bool(enabled, f"{name}.enabled", self._origins)
        if not isinstance(enabled, bool):
            raise ConfigError(
                f"{name}.enabled: expected true or false, got {enabled!r}"
                f"{_origin_note(f'{name}.enabled', self._origins)}"
            )
        return enabled

    def plugin_section(self, name: str, schema: type[S]) -> S | Instances[S]:
        """Validate ``[name]`` (without its ``enabled`` key) against a plugin's schema.

        A schema with ``named_instances = True`` (a ``ClassVar``) also takes named
        instances of itself as sub-tables, ``[asterisk.oslo]`` beside ``[asterisk]``; the
        result is then :class:`Instances`.
        """
        section = dict(self._data.get(name, {}))
        section.pop("enabled", None)
        if not getattr(schema, "named_instances", False):
            return convert(section, schema, origins=self._origins, prefix=name)
        fields = set(getattr(schema, "__struct_fields__", ()))
        named = {k: v for k, v in section.items() if k not in fields and isinstance(v, dict)}
        for key in named:
            section.pop(key)
            if not INSTANCE_NAME.fullmatch(key):
                raise ConfigError(
                    f"{name}.{key}: an instance name is lower-case letters, digits, - and _, "
                    f"starting with a letter{_origin_note(f'{name}.{key}', self._origins)}"
                )
            if key == name:
                raise ConfigError(f"{name}.{key}: an instance may not be called {name!r}")
        return Instances(
            default=convert(section, schema, origins=self._origins, prefix=name),
            named={
                key: convert(value, schema, origins=self._origins, prefix=f"{name}.{key}")
                for key, value in sorted(named.items())
            },
        )

    def check_sections(self, known_plugins: set[str]) -> None:
        """Fail on a section that is neither core nor the name of an installed plugin."""
        for section, value in self._data.items():
            if section in CORE_SECTIONS or section in known_plugins:
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"{section}: expected a table [{section}], got {type(value).__name__}"
                        f"{_origin_note(section, self._origins)}"
                    )
                continue
            known = ", ".join(sorted(known_plugins)) or "none"
            raise ConfigError(
                f"unknown section [{section}]{_origin_note(section, self._origins)}: "
                f"not a core section ({', '.join(CORE_SECTIONS)}) and no installed plugin "
                f"has that name (installed: {known})"
            )

    def redacted(self) -> dict[str, Any]:
        """The whole configuration as given, with secrets replaced by ``***``."""
        return redact(self._data)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), apply ``MEDLYTT_*`` overrides, resolve secret references."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    origins: dict[str, str] = {}
    file_path = Path(path) if path is not None else None
    if file_path is not None:
        data = _read_toml(file_path)
        _record_origins(data, f"config file {file_path}", origins)
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if any(not p for p in parts):
            raise ConfigError(
                f"environment variable {name}: expected MEDLYTT_<SECTION>__<KEY>, "
                "with no empty part"
            )
        _set_path(data, parts, _parse_env_value(value, name), name)
        origins[".".join(parts)] = f"environment variable {name}"
    data = _resolve_secrets(data, [], origins, environ)
    return Config(data, origins, file_path)


def convert(data: Any, schema: type[S], *, origins: Mapping[str, str], prefix: str = "") -> S:
    """``msgspec.convert`` with errors rewritten to name the config key and its origin."""
    try:
        return msgspec.convert(data, schema, strict=False)
    except msgspec.ValidationError as exc:
        message = _name_table_keys(str(exc), data, schema)
        raise ConfigError(_explain(message, origins, prefix)) from None


# ----------------------------------------------------------------------------- helpers


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _record_origins(
    data: dict[str, Any], origin: str, origins: dict[str, str], base: str = ""
) -> None:
    for key, value in data.items():
        path = f"{base}.{key}" if base else key
        origins[path] = origin
        if isinstance(value, dict):
            _record_origins(value, origin, origins, path)


def _parse_env_value(value: str, name: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return tomllib.loads(f"v = {stripped}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"environment variable {name}: not a TOML array or table: {exc}"
            ) from None
    return value


def _parse_bool(value: str, key: str, origins: Mapping[str, str]) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}: expected true or false, got {value!r}{_origin_note(key, origins)}")


def _set_path(data: dict[str, Any], parts: list[str], value: Any, name: str) -> None:
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(
                f"environment variable {name}: {part!r} is a value, not a table, in the config"
            )
        node = child
    node[parts[-1]] = value


def _resolve_secrets(
    value: Any, path: list[str], origins: Mapping[str, str], environ: Mapping[str, str]
) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("$env", "$file"):
            return _resolve_reference(value, ".".join(path), origins, environ)
        return {k: _resolve_secrets(v, [*path, k], origins, environ) for k, v in value.items()}
    return value


def _resolve_reference(
    ref: dict[str, Any], key: str, origins: Mapping[str, str], environ: Mapping[str, str]
) -> str:
    kind, target = next(iter(ref.items()))
    where = _origin_note(key, origins)
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{key}: {kind} expects a non-empty string{where}")
    if kind == "$env":
        if target not in environ:
            raise ConfigError(f"{key}: environment variable {target} is not set{where}")
        return environ[target]
    try:
        return Path(target).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{key}: cannot read secret file {target}: {exc.strerror}{where}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: secret file {target} is not UTF-8 text{where}") from None


_MSGSPEC_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def _explain(message: str, origins: Mapping[str, str], prefix: str) -> str:
    match = _MSGSPEC_PATH.match(message)
    msg = match.group("msg") if match else message
    raw_path = (match.group("path") if match else "") or ""
    parts = [p for p in re.split(r"\.|\[(\d+)\]", raw_path) if p]
    key_parts = [prefix, *parts] if prefix else parts
    unknown = _UNKNOWN_FIELD.match(msg)
    if unknown:
        key = ".".join([*key_parts, unknown.group("field")])
        return f"{key}: unknown key{_origin_note(key, origins)}"
    key = ".".join(key_parts) or "(top level)"
    msg = msg[:1].lower() + msg[1:]
    return f"{key}: {msg}{_origin_note(key, origins)}"


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


def _name_table_keys(message: str, data: Any, schema: type[Any]) -> str:
    """Put the table key back into a msgspec error path.

    msgspec writes a value inside a table of tables (``[surveys.queues.support]``) as
    ``$.queues[...].every``: it does not say *which* key is wrong.  Convert again with that
    table cut down to one key at a time; the key that alone gives the same error is named.
    """
    match = _MSGSPEC_PATH.match(message)
    path = (match.group("path") if match else None) or ""
    if match is None or "[...]" not in path:
        return message
    parts = [m.group(1) or m.group(2) for m in _PATH_PART.finditer(path)]
    for index, part in enumerate(parts):
        if part != "...":
            continue
        table = _lookup(data, parts[:index])
        if not isinstance(table, dict):
            return message
        for key, value in table.items():
            trial = _replace(data, parts[:index], {key: value})
            try:
                msgspec.convert(trial, schema, strict=False)
            except msgspec.ValidationError as exc:
                if str(exc) == message:
                    data, parts[index] = trial, str(key)
                    break
        else:
            return message
    return f"{match.group('msg')} - at `$.{'.'.join(parts)}`"


def _lookup(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _replace(data: Any, parts: list[str], value: Any) -> Any:
    """A copy of ``data`` with the value at ``parts`` replaced (only that path is copied)."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(data, dict):
        return {**data, head: _replace(data[head], rest, value)}
    copy = list(data)
    copy[int(head)] = _replace(copy[int(head)], rest, value)
    return copy


def _origin_note(key: str, origins: Mapping[str, str]) -> str:
    probe = key
    while probe:
        if probe in origins:
            return f" (from {origins[probe]})"
        probe = probe.rpartition(".")[0]
    return ""


#: ``user:password@`` inside a URL (``http://medlytt:secret@pbx:8088``).
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    """A copy with secrets replaced by ``***``: values of secret-looking keys, and the
    credentials inside any URL (which Medlytt refuses, but a user may still have typed)."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if key and SECRET_KEY.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return URL_CREDENTIALS.sub(rf"\g<scheme>{REDACTED}@", value)
    return value
