"""Medlytt: listen to a contact center's calls and coach its agents.

This module is Medlytt's **public API**: everything a plugin (built-in or a third
party's) may use is importable from ``medlytt`` itself, plus the event vocabulary in
``medlytt.events``.  Every other module of the core is private and may change without
notice; ``make lint`` enforces that the built-in plugins and gateways import nothing else
(import contracts in ``pyproject.toml``).  The guide is ``docs/plugins.md``.

What is here, by purpose:

* **Hooks**: :data:`hookimpl`, :func:`listens_to`; the hooks are in ``docs/hooks.md``.
* **Events and state**: :class:`Event` and the core's events, :class:`RawEvent`,
  :class:`LiveState` with its :class:`Call`, :class:`Agent`, :class:`Queue`, and
  :class:`StateSlot` for a plugin's own live state.
* **Acting on calls**: the call-control port :class:`CallControl`, its
  :class:`Capability` flags, typed :class:`ChannelEvent` objects and typed errors.
* **The application**: :class:`Medlytt` (what hooks receive as ``app``), :class:`Gateway`.
* **Forms and modules**: :class:`EvaluationForm` with its :class:`FormSection`,
  :class:`FormItem` and :class:`Scale`; :func:`shipped_forms` reads a plugin's forms from
  TOML files; :class:`CompetenceModule`.
* **Storage**: :class:`Migration`, :func:`transaction`; recordings with
  :func:`save_recording`, :func:`reveal_recording` and :func:`link_evaluation` (kept
  longer once evaluated); what happened earlier: :func:`answered_call`,
  :func:`recording_info`, and :func:`journal_events` (past events by type tag).
* **Audit trails**: :func:`chain_table` (a migration step) and :func:`append_chained`
  keep a table hash-chained, so an edited, inserted or deleted row is found; an
  :class:`AuditTrail` returned from the hook ``medlytt_audit_trails`` has
  ``medlytt audit verify`` check it.
* **HTTP**: :func:`medlytt_of`, :class:`HttpError`, :func:`json_response`,
  :func:`read_json`, :func:`query_limit`, :func:`query_since`; who is asking: :class:`Actor`,
  :func:`authenticate`, :func:`require_role`, :func:`may_monitor`, :func:`actor_named`;
  the web console's browser sessions: :func:`log_in`, :func:`log_out`,
  :func:`set_session_cookie`, :func:`web_session`, and :class:`ConsolePage` for the
  pages plugins add to it.
* **Command line**: :class:`Api` and its options and errors, for plugin commands that
  talk to a running Medlytt; :func:`config_option` and :func:`storage_path` for plugin
  commands that read the configured database.
"""

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import pluggy

try:
    __version__ = version("medlytt")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

#: Decorate plugin functions with this to implement a hook from :mod:`medlytt.hookspecs`.
hookimpl = pluggy.HookimplMarker("medlytt")

F = TypeVar("F", bound=Callable[..., Any])


def listens_to(*event_types: type | str) -> Callable[[F], F]:
    """Deliver only events of these types (or subclasses) to this ``medlytt_event``.

    Every other event skips the plugin's mailbox entirely: a plugin that reacts to three
    event types costs the event bus nothing for the rest (docs/plugins.md).  A string is
    another plugin's event type tag (``"mystery_call.started"``): a plugin reacts to it
    without importing that plugin, and simply never receives it when that plugin is not
    installed.  Works on ``medlytt_channel_event`` too::

        @hookimpl
        @listens_to(CallAnswered, CallEnded)
        def medlytt_event(event, app): ...
    """
    if not event_types or not all(isinstance(t, type | str) for t in event_types):
        raise TypeError("listens_to() takes one or more event classes or type tags")

    def mark(function: F) -> F:
        function.medlytt_event_types = event_types  # type: ignore[attr-defined]
        return function

    return mark


# The public names of the core, imported after the definitions above (core modules
# import ``__version__`` from here).
from .access import (  # noqa: E402
    Forbidden,
    Scope,
    agent_teams,
    all_teams,
    allow,
    public,
    scope_of,
    team_agents,
)
from .app import Medlytt  # noqa: E402
from .auth import Actor, actor_named, authenticate, may_monitor, require_role  # noqa: E402
from .callcontrol import (  # noqa: E402
    AgentLeg,
    CallControl,
    CallControlError,
    CallControlRefused,
    CallControlTimeout,
    Capability,
    ChannelEntered,
    ChannelEvent,
    ChannelGone,
    ChannelHangupRequested,
    ChannelLeft,
    ChannelNotFound,
    ChannelStateChanged,
    DtmfReceived,
    PlaybackFinished,
    Recording,
    RecordingFinished,
    Spy,
    TalkingStarted,
    TalkingStopped,
    Unavailable,
    Unsupported,
    http_status,
)
from .chain import AuditTrail, append_chained, chain_table  # noqa: E402
from .client import (  # noqa: E402
    Api,
    ApiError,
    Unreachable,
    config_option,
    fail,
    storage_path,
    token_option,
    url_option,
)
from .clock import utcnow  # noqa: E402
from .config import Instances, PositiveFloat, PositiveInt, time_zone  # noqa: E402
from .doctor import DoctorCheck  # noqa: E402
from .events import (  # noqa: E402
    AgentOffered,
    AgentRingNoAnswer,
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHeld,
    CallLost,
    CallQueued,
    CallResumed,
    CallTimedOut,
    CallTransferred,
    Event,
    HeadsetHook,
    HeadsetMute,
    ModuleSwitched,
    QueueConfigured,
    RawEvent,
    RecordingReady,
    TalkStarted,
    TalkStopped,
)
from .forms import EvaluationForm, FormItem, FormSection, Scale, shipped_forms  # noqa: E402
from .gateway import Gateway, Publish  # noqa: E402
from .history import (  # noqa: E402
    AnsweredCall,
    RecordingInfo,
    answered_call,
    journal_events,
    recording_info,
)
from .modules import CompetenceModule  # noqa: E402
from .pages import ConsolePage  # noqa: E402
from .recordings import link_evaluation, reveal_recording, save_recording  # noqa: E402
from .sessions import WebSession, log_in, log_out, set_session_cookie, web_session  # noqa: E402
from .state import Agent, Call, LiveState, Queue, StateSlot  # noqa: E402
from .storage import Migration, transaction  # noqa: E402
from .web import (  # noqa: E402
    HttpError,
    json_error,
    json_response,
    medlytt_of,
    query_limit,
    query_since,
    read_json,
)

__all__ = [
    "Actor",
    "Agent",
    "AgentLeg",
    "AgentOffered",
    "AgentRingNoAnswer",
    "AgentState",
    "AgentStateChanged",
    "AnsweredCall",
    "Api",
    "ApiError",
    "AuditTrail",
    "Call",
    "CallAbandoned",
    "CallAnswered",
    "CallControl",
    "CallControlError",
    "CallControlRefused",
    "CallControlTimeout",
    "CallEnded",
    "CallHeld",
    "CallLost",
    "CallQueued",
    "CallResumed",
    "CallTimedOut",
    "CallTransferred",
    "Capability",
    "ChannelEntered",
    "ChannelEvent",
    "ChannelGone",
    "ChannelHangupRequested",
    "ChannelLeft",
    "ChannelNotFound",
    "ChannelStateChanged",
    "CompetenceModule",
    "ConsolePage",
    "DoctorCheck",
    "DtmfReceived",
    "EvaluationForm",
    "Event",
    "Forbidden",
    "FormItem",
    "FormSection",
    "Gateway",
    "HeadsetHook",
    "HeadsetMute",
    "HttpError",
    "Instances",
    "LiveState",
    "Medlytt",
    "Migration",
    "ModuleSwitched",
    "PlaybackFinished",
    "PositiveFloat",
    "PositiveInt",
    "Publish",
    "Queue",
    "QueueConfigured",
    "RawEvent",
    "Recording",
    "RecordingFinished",
    "RecordingInfo",
    "RecordingReady",
    "Scale",
    "Scope",
    "Spy",
    "StateSlot",
    "TalkStarted",
    "TalkStopped",
    "TalkingStarted",
    "TalkingStopped",
    "Unavailable",
    "Unreachable",
    "Unsupported",
    "WebSession",
    "__version__",
    "actor_named",
    "agent_teams",
    "all_teams",
    "allow",
    "answered_call",
    "append_chained",
    "authenticate",
    "chain_table",
    "config_option",
    "fail",
    "hookimpl",
    "http_status",
    "journal_events",
    "json_error",
    "json_response",
    "link_evaluation",
    "listens_to",
    "log_in",
    "log_out",
    "may_monitor",
    "medlytt_of",
    "public",
    "query_limit",
    "query_since",
    "read_json",
    "recording_info",
    "require_role",
    "reveal_recording",
    "save_recording",
    "scope_of",
    "set_session_cookie",
    "shipped_forms",
    "storage_path",
    "team_agents",
    "time_zone",
    "token_option",
    "transaction",
    "url_option",
    "utcnow",
    "web_session",
]
