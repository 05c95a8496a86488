"""Loading plugins and calling their hooks, one implementation at a time, isolated.

pluggy finds and validates implementations; Medlytt does not let pluggy call them in one
go, because one plugin's exception would then abort the whole hook call and nothing would
bound an async implementation that hangs.  :meth:`PluginHost.invoke` is the one boundary
every hook call passes: breaker check, keyword filtering, timeout for coroutines, error
logging with the plugin's name, counting.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .breaker import CircuitBreaker

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "medlytt"
BUILTIN_DISTRIBUTION = "medlytt"


@dataclass
class PluginInfo:
    """What Medlytt knows about one loaded plugin."""

    name: str
    version: str
    source: str  # "builtin", "package <dist>", or "module"
    module: str
    plugin: object
    breaker: CircuitBreaker
    errors: int = 0
    last_error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for ``medlytt plugins`` and ``GET /api/plugins``."""
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "module": self.module,
            "hooks": self.hooks,
            "breaker": self.breaker.state.value,
            "errors": self.errors,
            "last_error": self.last_error,
        }


ErrorListener = Callable[[PluginInfo, str, BaseException | None], None]


class PluginLoadError(RuntimeError):
    """A plugin could not be imported or registered; the message names it."""


class PluginHost:
    """The set of loaded plugins and the isolated way of calling their hooks."""

    def __init__(
        self,
        *,
        hook_timeout: float = 5.0,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 60.0,
    ) -> None:
        self.hook_timeout = hook_timeout
        self.breaker_failures = breaker_failures
        self.breaker_reset_seconds = breaker_reset_seconds
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self.disabled: dict[str, str] = {}  # name -> why
        self.error_listeners: list[ErrorListener] = []

    # ------------------------------------------------------------------ loading

    def load_entry_points(self) -> None:
        """Register every plugin of the ``medlytt`` entry-point group (built-ins too)."""
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in self._plugins:
                continue
            self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "unknown"
        version = dist.version if dist is not None else "unknown"
        source = "builtin" if dist_name == BUILTIN_DISTRIBUTION else f"package {dist_name}"
        try:
            plugin = ep.load()
        except Exception as exc:
            log.exception("plugin %s: cannot import %s", ep.name, ep.value)
            self.disabled[ep.name] = f"import failed: {exc!r}"
            return
        try:
            self.register(plugin, name=ep.name, version=version, source=source)
        except PluginLoadError as exc:
            log.error("%s", exc)
            self.disabled[ep.name] = str(exc)

    def load_module(self, module_name: str) -> PluginInfo:
        """Import a plugin module by name (config ``plugins.modules``) and register it."""
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise PluginLoadError(f"plugins.modules: cannot import {module_name!r}: {exc}") from exc
        name = getattr(module, "PLUGIN_NAME", module_name.rpartition(".")[2])
        version = str(getattr(module, "__version__", "0"))
        return self.register(module, name=name, version=version, source="module")

    def register(self, plugin: object, *, name: str, version: str, source: str) -> PluginInfo:
        """Register a plugin object (usually a module) under ``name``."""
        if name in self._plugins:
            raise PluginLoadError(f"two plugins are called {name!r}")
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginLoadError(f"plugin {name!r} cannot be registered: {exc}") from exc
        try:
            self._check_contract(plugin, name)
        except PluginLoadError:
            self.pm.unregister(plugin)
            raise
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        info = PluginInfo(
            name=name,
            version=version,
            source=source,
            module=module,
            plugin=plugin,
            breaker=CircuitBreaker(self.breaker_failures, self.breaker_reset_seconds),
        )
        info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self._plugins[name] = info
        return info

    def _check_contract(self, plugin: object, name: str) -> None:
        """Refuse what Medlytt would never call correctly (docs/hooks.md): wrappers, and
        coroutines for hooks that run before the event loop."""
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if impl.hookwrapper or impl.wrapper:
                    raise PluginLoadError(
                        f"plugin {name!r}: {caller.name} is a pluggy wrapper; Medlytt calls "
                        "each implementation on its own, so wrappers are not supported "
                        "(drop hookwrapper=True/wrapper=True)"
                    )
                if caller.name in hookspecs.SYNC_ONLY and inspect.iscoroutinefunction(
                    impl.function
                ):
                    raise PluginLoadError(
                        f"plugin {name!r}: {caller.name} must be a plain def, not async def: "
                        "Medlytt calls it while plugins load, before the event loop runs"
                    )

    def unregister(self, name: str, why: str) -> None:
        """Remove a plugin (e.g. ``enabled = false`` in its section) and remember why."""
        info = self._plugins.pop(name, None)
        if info is not None:
            self.pm.unregister(info.plugin)
        self.disabled[name] = why

    # ------------------------------------------------------------------ reading

    def plugins(self) -> list[PluginInfo]:
        return sorted(self._plugins.values(), key=lambda p: p.name)

    def get(self, name: str) -> PluginInfo | None:
        return self._plugins.get(name)

    def names(self) -> set[str]:
        return set(self._plugins)

    def implementations(self, hook: str) -> Iterator[tuple[PluginInfo, pluggy.HookImpl]]:
        """Each plugin implementing ``hook`` with its implementation, in load order."""
        caller = getattr(self.pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):  # pluggy lists last-registered first
            info = self._plugins.get(impl.plugin_name)
            if info is not None:
                yield info, impl

    # ------------------------------------------------------------------ calling

    async def call(self, hook: str, **kwargs: Any) -> list[tuple[PluginInfo, Any]]:
        """Call ``hook`` on every plugin, isolated; return ``(plugin, result)`` for successes."""
        results = []
        for info, impl in list(self.implementations(hook)):
            ok, result = await self.invoke(info, impl, kwargs)
            if ok:
                results.append((info, result))
        return results

    def call_sync(self, hook: str, **kwargs: Any) -> list[tuple[PluginInfo, Any]]:
        """Call a hook whose implementations must be synchronous (before the loop runs)."""
        results = []
        for info, impl in list(self.implementations(hook)):
            ok, result = self.invoke_sync(info, impl, kwargs)
            if ok:
                results.append((info, result))
        return results

    async def invoke(
        self, info: PluginInfo, impl: pluggy.HookImpl, kwargs: dict[str, Any]
    ) -> tuple[bool, Any]:
        """Run one implementation under the breaker and the timeout; never raises."""
        if not info.breaker.allow():
            return False, None
        hook = impl.function.__name__
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
            if inspect.isawaitable(result):
                async with asyncio.timeout(self.hook_timeout):  # no extra task, unlike wait_for
                    result = await result
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self.record_timeout(info, hook)
            return False, None
        except Exception as exc:
            self._failed(info, hook, exc, repr(exc))
            return False, None
        info.breaker.record_success()
        return True, result

    def invoke_sync(
        self, info: PluginInfo, impl: pluggy.HookImpl, kwargs: dict[str, Any]
    ) -> tuple[bool, Any]:
        """Like :meth:`invoke` for hooks that run before the event loop; coroutines are errors."""
        hook = impl.function.__name__
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(f"{hook} must not be async")
        except Exception as exc:
            self._failed(info, hook, exc, repr(exc))
            return False, None
        return True, result

    def record_timeout(self, info: PluginInfo, hook: str) -> None:
        """Count a hook call that ran past ``hook_timeout`` (the event bus's watchdog
        cancels those: see :class:`medlytt.event_bus.PluginMailbox`)."""
        self._failed(info, hook, None, f"timed out after {self.hook_timeout:g} s")

    def record_failure(self, info: PluginInfo, where: str, exc: BaseException) -> None:
        """Count a plugin's failure outside a hook call (e.g. in its state slot) exactly
        like a failing hook: logged, counted, towards the breaker."""
        self._failed(info, where, exc, repr(exc))

    def _failed(self, info: PluginInfo, hook: str, exc: BaseException | None, what: str) -> None:
        info.errors += 1
        info.last_error = f"{hook}: {what}"
        log.error(
            "plugin %s failed in %s: %s", info.name, hook, what, exc_info=exc is not None and exc
        )
        opened = info.breaker.record_failure()
        for listener in self.error_listeners:
            listener(info, hook, exc)
        if opened:
            log.error(
                "plugin %s: circuit breaker OPEN after %d consecutive failures; its hooks are "
                "skipped for %g s",
                info.name,
                info.breaker.consecutive_failures,
                info.breaker.reset_seconds,
            )
