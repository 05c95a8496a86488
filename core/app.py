"""The running application: config, plugins, live state, storage, bus, gateways, metrics.

:class:`Medlytt` is what plugins receive as ``app``.  Its start and stop order is the
contract documented in ``docs/architecture.md``:

start: load plugins → validate config → open storage → migrations → recordings' deletion
job → metrics → event bus and journal → gateways created (``medlytt_gateways``) →
``medlytt_startup`` (plugins may attach to ``app.gateways`` here, before any event flows)
→ gateways started → (the web server is started by the caller)

stop: gateways → drain plugin mailboxes → ``medlytt_shutdown`` → journal's last write →
deletion job stopped → storage closed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from . import auth, modules, recordings
from . import journal as journal_module
from .callcontrol import CallControl, Capability, Unavailable, Unsupported
from .config import Config, ConfigError
from .event_bus import EventBus
from .events import Event, EventCatalogue, EventTypeError
from .forms import EvaluationForm
from .gateway import Gateway
from .gateway_runner import GatewayRunner
from .journal import EventJournal
from .metrics import AppCollector, CoreMetrics
from .plugin_host import PluginHost
from .state import LiveState
from .storage import Migration, Storage, tighten_folder

log = logging.getLogger(__name__)

#: How long a clean stop waits for plugins to finish the events already queued to them.
DRAIN_SECONDS = 10.0

#: The core's own tables, in the order they are created: the one list of core migrations.
CORE_MIGRATIONS: list[Migration] = [
    *journal_module.MIGRATIONS,
    *auth.MIGRATIONS,
    *recordings.MIGRATIONS,
    *modules.MIGRATIONS,
]


def load_plugins(
    config: Config, extra: Sequence[tuple[str, object]] = ()
) -> tuple[PluginHost, dict[str, object]]:
    """Load installed and configured plugins, drop disabled ones, validate their sections.

    ``extra`` registers plugin objects directly as ``(name, plugin)`` (tests, embedding).

    Raises :class:`ConfigError` for an unknown section, a bad ``enabled`` value or a
    plugin section that does not match the plugin's schema.
    """
    settings = config.plugins
    host = PluginHost(
        hook_timeout=settings.hook_timeout_seconds,
        breaker_failures=settings.breaker_failures,
        breaker_reset_seconds=settings.breaker_reset_seconds,
    )
    host.load_entry_points()
    for module_name in settings.modules:
        try:
            host.load_module(module_name)
        except Exception as exc:
            raise ConfigError(str(exc)) from None
    for name, plugin in extra:
        try:
            host.register(plugin, name=name, version="0", source="module")
        except Exception as exc:
            raise ConfigError(str(exc)) from None
    config.check_sections(host.names() | set(host.disabled))
    for info in host.plugins():
        if not config.plugin_enabled(info.name):
            host.unregister(info.name, "enabled = false in config")
    plugin_configs: dict[str, object] = {}
    schemas = {info.name: schema for info, schema in host.call_sync("medlytt_config_schema")}
    for info in host.plugins():
        schema = schemas.get(info.name)
        if schema is None:
            unknown = set(config.plugin_sections().get(info.name, {})) - {"enabled"}
            if unknown:
                raise ConfigError(
                    f"{info.name}.{sorted(unknown)[0]}: unknown key (plugin {info.name!r} "
                    "takes no settings)"
                )
            plugin_configs[info.name] = None
            continue
        plugin_configs[info.name] = config.plugin_section(info.name, schema)
    return host, plugin_configs


class Medlytt:
    """One running Medlytt: what every plugin hook receives as ``app``."""

    def __init__(
        self,
        config: Config,
        host: PluginHost | None = None,
        plugin_configs: dict[str, object] | None = None,
    ) -> None:
        if host is None:
            host, plugin_configs = load_plugins(config)
        self.config = config
        self.host = host
        self._plugin_configs = plugin_configs or {}
        #: Every event type this Medlytt knows: the core's and its plugins' own.
        self.events = EventCatalogue()
        for info, types in host.call_sync("medlytt_event_types"):
            for cls in types or []:
                try:
                    self.events.register(info.name, cls)
                except EventTypeError as exc:
                    raise ConfigError(str(exc)) from None
        self.state = LiveState()
        self.state.on_slot_error = lambda plugin, exc: self._slot_failed(plugin, exc)
        self.storage = Storage(config.storage.path)
        self.registry = CollectorRegistry(auto_describe=True)
        self.metrics = CoreMetrics(self.registry)
        self.journal: EventJournal | None = (
            EventJournal(
                self.storage,
                batch_size=config.storage.journal_batch_size,
                flush_seconds=config.storage.journal_flush_seconds,
            )
            if config.storage.journal
            else None
        )
        self.bus = EventBus(
            self.state,
            host,
            journal=self.journal,
            mailbox_size=config.plugins.mailbox_size,
            extra_kwargs={"app": self},
        )
        self.metrics.start_at_zero([info.name for info in host.plugins()])
        self.bus.listeners.append(self.metrics.count_event)
        host.error_listeners.append(
            lambda info, hook, exc: self.metrics.count_plugin_error(info.name)
        )
        self.gateways: list[Gateway] = []
        self._runners: list[GatewayRunner] = []
        self.forms: dict[tuple[str, int], EvaluationForm] = {}
        self.modules = modules.ModuleCatalogue()
        #: Objects a plugin keeps for this application, under the plugin's name.
        self.plugin_state: dict[str, Any] = {}
        #: Services plugins offer each other by name (see :meth:`provide`).
        self._services: dict[str, object] = {}
        #: Retention and deletion of recordings, and their metrics (core/recordings.py).
        self.recordings = recordings.RecordingKeeper(self)
        self.started = False

    def _slot_failed(self, plugin: str, exc: BaseException) -> None:
        info = self.host.get(plugin)
        if info is not None:
            self.host.record_failure(info, "StateSlot.apply", exc)

    # ------------------------------------------------------------------ for plugins

    def publish(self, event: Event) -> None:
        """Publish a domain event: state, journal, metrics, then every plugin."""
        self.bus.publish(event)

    def plugin_config(self, name: str) -> Any:
        """The validated config object of plugin ``name`` (``None`` if it has no schema)."""
        if name not in self._plugin_configs:
            raise KeyError(f"no plugin called {name!r} is loaded")
        return self._plugin_configs[name]

    def call_controls(self) -> list[CallControl]:
        """The call-control ports of every running gateway that has one."""
        return [g.call_control for g in self.gateways if g.call_control is not None]

    def call_control(
        self, *needs: Capability, feature: str = "", pbx: str | None = None
    ) -> CallControl:
        """The call-control port a feature acts through (``docs/plugins.md``).

        ``needs`` are the capabilities the feature uses; ``pbx`` picks a gateway by name
        when there are several (default: the first that has call control).  Raises
        :class:`medlytt.Unsupported` naming what is missing (the demo has no call
        control) and :class:`medlytt.Unavailable` when the PBX is not connected; both
        are 503 for a route (:func:`medlytt.http_status`).
        """
        gateways = [g for g in self.gateways if pbx is None or g.name == pbx]
        if not gateways and pbx is not None:
            raise Unavailable(feature or "call control", f"no gateway called {pbx!r}")
        if not gateways:
            raise Unsupported(None, needs or list(Capability), feature)
        capable = [
            g.call_control
            for g in gateways
            if g.call_control is not None and set(needs) <= g.call_control.capabilities
        ]
        for control in capable:  # a connected one first: one site down leaves the others
            if control.connected:
                return control
        if capable:
            capable[0].require(*needs, feature=feature)  # raises Unavailable
        first = gateways[0]
        have = first.call_control.capabilities if first.call_control else frozenset()
        raise Unsupported(first.name, set(needs or Capability) - have, feature)

    def provide(self, name: str, service: object) -> None:
        """Offer a service to other plugins under ``name`` (e.g. ``"monitoring"``).

        Plugins never import each other; one finds another's service with
        :meth:`service` and uses it through a protocol of its own, so that removing the
        providing plugin removes only the feature, never an import.
        """
        self._services[name] = service

    def service(self, name: str) -> object | None:
        """The service another plugin provides under ``name``; None when none does."""
        return self._services.get(name)

    @property
    def demo(self) -> bool:
        """True when every running gateway is simulated (the demo contact center)."""
        return bool(self.gateways) and all(g.demo for g in self.gateways)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open storage, migrate, register metrics, start plugins and gateways."""
        await self.storage.open()
        folder = recordings.recordings_dir(self)
        await self.storage.run_blocking(lambda: tighten_folder(folder))
        migrations: list[tuple[str, Migration]] = [("core", m) for m in CORE_MIGRATIONS]
        for info, result in self.host.call_sync("medlytt_migrations"):
            migrations.extend((info.name, m) for m in result or [])
        await self.storage.migrate(migrations)
        self.registry.register(AppCollector(self))
        self.registry.register(self.recordings)
        self.recordings.start()
        await self.host.call("medlytt_metrics", registry=self.registry, app=self)
        for info, result in await self.host.call("medlytt_forms"):
            for form in result or []:
                self._add_form(info.name, form)
        for info, result in await self.host.call("medlytt_competence_modules"):
            for module in result or []:
                self.modules.add(info.name, module)
        await self.modules.refresh(self)
        self.modules.start(self)
        for info, slot in self.host.call_sync("medlytt_state_slot", app=self):
            if slot is not None:
                try:
                    self.state.add_slot(info.name, slot)
                except TypeError as exc:
                    self.host.record_failure(info, "medlytt_state_slot", exc)
        if self.journal is not None:
            self.journal.start()
        self.bus.start()
        self._choose_gateways(await self.host.call("medlytt_gateways", app=self))
        for gateway in self.gateways:
            gateway.publish_channel = self.bus.publish_channel
        await self.host.call("medlytt_startup", app=self)
        self._start_gateways()
        self.started = True

    def _add_form(self, plugin: str, form: EvaluationForm) -> None:
        if not isinstance(form, EvaluationForm):
            log.error("plugin %s: medlytt_forms returned %r, not an EvaluationForm", plugin, form)
            return
        key = (form.id, form.version)
        if key in self.forms:
            log.error("plugin %s: form %s v%d is defined twice; keeping the first", plugin, *key)
            return
        self.forms[key] = form

    def _choose_gateways(self, results: list[tuple[Any, Any]]) -> None:
        """Keep the real gateways, or the fallback (demo) ones when no real one is configured."""
        gateways = [g for _, result in results for g in (result or [])]
        real = [g for g in gateways if not g.fallback]
        self.gateways = real or gateways
        if not self.gateways:
            log.warning("no gateway configured: Medlytt receives no events")

    def _start_gateways(self) -> None:
        for gateway in self.gateways:
            if gateway.demo:
                log.warning(
                    "DEMO MODE: gateway %s is a simulated contact center, not a PBX; "
                    "configure [asterisk] to connect a real one",
                    gateway.name,
                )
            runner = GatewayRunner(gateway, self.publish)
            runner.start()
            self._runners.append(runner)

    async def stop(self) -> None:
        """Stop gateways, let plugins finish, run shutdown hooks, write the journal, close."""
        for runner in self._runners:
            await runner.stop()
        self._runners.clear()
        if not await self.bus.drain(DRAIN_SECONDS):
            log.warning("plugins did not finish their queued events within %g s", DRAIN_SECONDS)
        await self.host.call("medlytt_shutdown", app=self)
        for gateway in self.gateways:
            try:
                await gateway.close()
            except Exception:
                log.exception("gateway %s: close failed", gateway.name)
        await self.bus.stop()
        if self.journal is not None:
            await self.journal.close()
        await self.recordings.stop()
        await self.modules.stop()
        await self.storage.close()
        self.started = False
