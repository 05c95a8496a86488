"""The plugin contract: every hook a Medlytt plugin can implement.

This module is a plugin author's first page; ``docs/hooks.md`` is generated from it and a
test fails when the two disagree.

How Medlytt calls hooks (the same for built-in and third-party plugins):

* **Keyword arguments only.**  An implementation may accept any subset of a hook's
  arguments, so hooks can grow new arguments without breaking anyone.
* **Sync or async**, except where a hook says **synchronous only**
  (:data:`SYNC_ONLY`: they run while plugins load, before the event loop).  Medlytt
  awaits coroutines; async implementations run under ``plugins.hook_timeout_seconds``
  (config); one that takes longer is cancelled and counted as an error (event handlers
  by the bus's watchdog, which looks every quarter of the timeout, at most every 0.5 s:
  one timer for all mailboxes, none per event).  Sync
  implementations run on the event loop: they must not block.  An ``async def``
  implementation of a synchronous-only hook is refused when the plugin is registered,
  naming the plugin and the hook.
* **No wrappers.**  pluggy's ``hookwrapper=True`` and ``wrapper=True`` implementations
  are refused at registration: Medlytt calls each implementation on its own (below), so
  there is nothing for a wrapper to wrap.
* **One implementation at a time, isolated.**  Medlytt calls each plugin's implementation
  separately.  An exception or a timeout is logged with the plugin's name, counted in
  ``medlytt_plugin_errors_total{plugin}`` and never reaches the core or other plugins.
  After ``plugins.breaker_failures`` consecutive failures the plugin's circuit breaker
  opens: none of its hooks is called until ``plugins.breaker_reset_seconds`` have passed,
  when one trial call decides whether it closes again.  ``medlytt plugins`` and
  ``GET /api/plugins`` show the breaker.
* No hook uses ``firstresult``: results are collected from every plugin.

Implement a hook with the :data:`medlytt.hookimpl` marker::

    from medlytt import hookimpl

    @hookimpl
    async def medlytt_event(event, state):
        ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    import msgspec
    from aiohttp import web
    from prometheus_client import CollectorRegistry

    from .app import Medlytt
    from .callcontrol import CallControl, ChannelEvent
    from .chain import AuditTrail
    from .doctor import DoctorCheck
    from .events import Event
    from .forms import EvaluationForm
    from .gateway import Gateway
    from .modules import CompetenceModule
    from .pages import ConsolePage
    from .state import LiveState, StateSlot
    from .storage import Migration

hookspec = pluggy.HookspecMarker("medlytt")


# ============================================================================ configuration


@hookspec
def medlytt_config_schema() -> type[msgspec.Struct] | None:
    """Declare the plugin's configuration section.  **Synchronous only.**

    Called once when plugins are loaded, before any other hook.

    Return a ``msgspec.Struct`` class (use ``forbid_unknown_fields=True`` and defaults for
    every field).  The config file's section named after the plugin (``[queue_metrics]``
    for the plugin ``queue_metrics``) and the environment variables
    ``MEDLYTT_<PLUGIN>__<KEY>`` are validated against it; a wrong key or value stops
    Medlytt at start with exit status 2 and a message naming the key.  Every plugin
    section also accepts ``enabled = false``, which unloads the plugin.  The validated
    object is available as ``app.plugin_config("<plugin>")``.
    Return ``None`` (or do not implement the hook) for a plugin with no settings.
    """


# ============================================================================ lifecycle


@hookspec
def medlytt_startup(app: Medlytt) -> None:
    """Prepare the plugin when Medlytt starts.

    Called once, after storage is open and every migration has run, after the gateways
    were created (``app.gateways``, so a plugin can attach to one) but before they start
    sending events, and before the HTTP server accepts requests.  ``app`` is the running
    :class:`medlytt.app.Medlytt`: its ``config``, ``state``, ``storage`` and ``publish``.
    May be async.  Return value ignored.  An error here is isolated like any other: the
    plugin stays loaded and the failure is counted.
    """


@hookspec
def medlytt_shutdown(app: Medlytt) -> None:
    """Release what the plugin holds when Medlytt stops.

    Called once on a clean stop (SIGTERM, SIGINT), after gateways have stopped and every
    queued event was delivered, before the event journal's last write.  May be async.
    Return value ignored.
    """


# ============================================================================ events


@hookspec
def medlytt_event(event: Event, state: LiveState, app: Medlytt) -> None:
    """React to one domain event (see ``docs/events.md`` for the catalogue).

    Called for every event from every gateway and plugin, in the order they were
    published, one at a time per plugin.  The live ``state`` already includes this event
    and may include later ones (it is "now", ``event`` is what happened).  Read the state;
    do not modify it: publish a new event with ``app.publish(...)`` instead.
    May be async; a slow plugin delays only its own events (each plugin has its own
    mailbox of ``plugins.mailbox_size`` events; overflow is dropped and counted in
    ``medlytt_plugin_events_dropped_total{plugin}``).  Decorate the implementation with
    ``@medlytt.listens_to(EventClass, ...)`` to receive only those types.  Return value
    ignored.
    """


@hookspec
def medlytt_channel_event(event: ChannelEvent, port: CallControl, app: Medlytt) -> None:
    """React to a channel event of the call-control port (see ``docs/plugins.md``).

    Called for each :class:`medlytt.ChannelEvent` about a channel in Medlytt's control or
    created by a feature (entered, left, key pressed, playback or recording finished,
    talking started or stopped), with ``port``, the :class:`medlytt.CallControl` of the
    gateway it came from.  Each plugin gets them in order through a mailbox of its own;
    like every hook, an implementation that raises or outlives
    ``plugins.hook_timeout_seconds`` is counted in ``medlytt_plugin_errors_total{plugin}``
    and trips the plugin's breaker, never the gateway or other plugins.  Keep it quick:
    resolve a future, put the event in a queue.  Decorate with
    ``@medlytt.listens_to(DtmfReceived, ...)`` to receive only those types.  May be async.
    """


# ============================================================================ registration


@hookspec
def medlytt_gateways(app: Medlytt) -> list[Gateway] | None:
    """Provide gateways: sources of events such as a PBX or the demo contact center.

    Called once at start, before ``medlytt_startup``; the gateways start after it.  Return a list of
    :class:`medlytt.gateway.Gateway` objects (or ``None``).  Medlytt runs each gateway,
    restarts it with backoff when it fails, and reports it in ``/readyz`` and
    ``medlytt_gateway_up{gateway}``.  A gateway with ``fallback = True`` (the demo) runs
    only when no other gateway is configured.
    """


@hookspec
def medlytt_routes(app: Medlytt) -> list[web.RouteDef] | None:
    """Add HTTP routes to Medlytt's server.

    Called once while the web application is built.  Return a list of aiohttp route
    definitions (``web.get("/api/myplugin/...", handler)``, ...).  Put JSON APIs under
    ``/api/<plugin>/``.  Each handler declares who may call it with
    ``@medlytt.allow(*roles, rows=...)`` or ``@medlytt.public(why)``; a route without a
    rule is not served.  Handlers find the application with ``medlytt.medlytt_of(request)``,
    the caller with ``await medlytt.authenticate(request)`` and the rows it may see with
    ``await medlytt.scope_of(app, actor)``.
    """


@hookspec
def medlytt_metrics(registry: CollectorRegistry, app: Medlytt) -> None:
    """Register Prometheus metrics on Medlytt's registry.

    Called once at start, before ``medlytt_startup``.  Create metrics with
    ``registry=registry`` or ``registry.register(collector)``; they appear on
    ``/metrics``.  Use base units (``_seconds``), ``_total`` for counters and bounded
    label values.  Return value ignored.
    """


@hookspec
def medlytt_migrations() -> list[Migration] | None:
    """Provide the plugin's storage migrations.  **Synchronous only.**

    Called once at start, before ``medlytt_startup``.  Return a list of
    :class:`medlytt.storage.Migration` in the order they must run.  Each migration runs
    once, on the storage thread, and is recorded with the plugin's name after it succeeds;
    write each as one step that is safe to re-run, and never rename or change a migration
    that was released.
    """


@hookspec
def medlytt_event_types() -> list[type[Event]] | None:
    """Declare the plugin's own event types.  **Synchronous only.**

    Called once when plugins are loaded.  Return the :class:`medlytt.Event` subclasses the
    plugin publishes, each with a tag of its own (``class Flagged(Event, frozen=True,
    tag="longcalls.flagged")``; repeating ``frozen=True`` tells type checkers what msgspec
    already does).  Medlytt then journals them, serves them on
    ``/api/events``, decodes them again after a restart and lists them in the event
    catalogue.  A tag another plugin (or the core) already uses stops Medlytt at start
    naming both.  The journal keeps the events of a plugin that is later removed; they
    read back as :class:`medlytt.RawEvent`.
    """


@hookspec
def medlytt_state_slot(app: Medlytt) -> StateSlot | None:
    """Provide the plugin's part of the live state.  **Synchronous only.**

    Called once at start, before any event flows.  Return a :class:`medlytt.StateSlot`
    (or ``None``): the core applies every event the slot ``follows`` to it, right after
    its own state and before any ``medlytt_event``, and ``/api/state`` shows its
    ``snapshot()`` under ``plugins.<name>``.  Other code reads it as
    ``app.state.slot(MySlot)``.
    """


@hookspec
def medlytt_forms() -> list[EvaluationForm] | None:
    """Provide evaluation (listening) forms.

    Called once at start.  Return a list of :class:`medlytt.forms.EvaluationForm`: the
    listening forms that coaches fill in while or after listening to a call.  Forms are
    versioned data; ``GET /api/forms`` lists them.
    """


@hookspec
def medlytt_competence_modules() -> list[CompetenceModule] | None:
    """Declare the competence modules this plugin implements.

    Called once at start.  Return :class:`medlytt.CompetenceModule` objects (id, the
    method's number, titles, forms, measures, and the type tags of the module's own
    activity events, which the module progress view counts).  ``GET /api/modules`` lists them; a
    supervisor switches one on for a team with ``PUT /api/teams/{team}/modules/{id}``, and
    the plugin asks ``app.modules.active_for_agent(id, agent_id)`` before it measures.
    """


@hookspec
def medlytt_cli_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``medlytt`` command line.  **Synchronous only.**

    Called when the ``medlytt`` command starts, for every installed plugin (the config
    file is not read yet).  Add commands with ``@cli.command()`` or
    ``cli.add_command(...)``.  Return value ignored.
    """


@hookspec
def medlytt_doctor(plugin_configs: dict[str, Any]) -> list[DoctorCheck] | None:
    """Check what the plugin needs from the world, for ``medlytt doctor``.

    Called by ``medlytt doctor`` only, never by a running server (no ``app``: nothing is
    started).  ``plugin_configs`` holds every plugin's validated section by plugin name
    (the plugin's own: ``plugin_configs["asterisk"]``).  Sync or async; all plugins' checks
    together may take up to a minute.  Return a list of :class:`medlytt.DoctorCheck`
    (``DoctorCheck.ok``, ``.warn`` or ``.fail``, each warning and failure with the fix to
    make): a failure makes ``medlytt doctor`` exit 1.  An exception is reported as a
    failure of the plugin.
    """


@hookspec
def medlytt_audit_trails() -> list[AuditTrail] | None:
    """Name the plugin's tamper-evident audit trails.  **Synchronous only.**

    Called by ``medlytt audit verify`` only (no ``app``: nothing is started), for every
    enabled plugin.  Return a list of :class:`medlytt.AuditTrail` (the name the command
    prints, and the table), each a table the plugin's migrations made with
    :func:`medlytt.chain_table` and writes only with :func:`medlytt.append_chained`.  The
    command checks each one's hash chain with the core's own trails and names every
    edited, inserted or deleted row.
    """


# ============================================================================ web console


@hookspec
def medlytt_console_pages(app: Medlytt) -> list[ConsolePage] | None:
    """Add pages and menu entries to the web console (``docs/console.md``).

    Called once when the console starts (only when the ``console`` plugin is loaded).
    Return a list of :class:`medlytt.ConsolePage`: each is served at
    ``/console/x/<name>`` inside the console's layout and listed in its menu for its
    ``roles``; others get 403.  ``render(request, actor)`` is awaited per request and
    returns an HTML fragment (escape what you put in it); fetch the data from your JSON
    API in a script, sending the ``X-CSRF-Token`` header from
    ``<meta name="csrf-token">`` on every POST, PUT, PATCH and DELETE.  May be async.
    """


#: Hooks called before the event loop runs: an ``async def`` implementation is refused.
SYNC_ONLY: frozenset[str] = frozenset(
    {
        "medlytt_config_schema",
        "medlytt_migrations",
        "medlytt_cli_commands",
        "medlytt_event_types",
        "medlytt_state_slot",
        "medlytt_audit_trails",
    }
)

#: Names of all hooks, in the order they appear above (used by docs and tests).
HOOK_NAMES: tuple[str, ...] = tuple(
    name for name in list(globals()) if name.startswith("medlytt_") and callable(globals()[name])
)
