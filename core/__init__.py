"""Medlytt: listen to a contact center's calls and coach its agents.

The import package ``medlytt`` is the core: the event model, the live state, the plugin
host, storage, the HTTP server and the CLI.  Everything a user sees as a feature lives in
a plugin (``medlytt.plugins``) or a gateway (``medlytt.gateways``) registered through the
``medlytt`` entry-point group, exactly as a third-party plugin would be.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

try:
    __version__ = version("medlytt")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

#: Decorate plugin functions with this to implement a hook from :mod:`medlytt.hookspecs`.
hookimpl = pluggy.HookimplMarker("medlytt")

__all__ = ["__version__", "hookimpl"]
