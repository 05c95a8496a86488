"""The import contracts of ``make lint`` hold, and they can fail.

Plugins act on calls only through the call-control port and import only the public API
(``medlytt`` and ``medlytt.events``); the core imports no feature; plugins do not import
each other.  A contract that can never fail protects nothing, so a deliberate violation
in a laid-out copy of the tree must break it.
"""

from __future__ import annotations

import tomllib

import pytest
from lint_layout import ROOT, check


def contracts() -> dict[str, dict]:
    """The import-linter contracts of pyproject.toml, by id."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_tree_keeps_every_contract():
    result = check("imports")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        (
            "medlytt/plugins/monitoring/sneaky.py",
            "import medlytt.gateways.asterisk\n",
            "medlytt.plugins.monitoring.sneaky -> medlytt.gateways.asterisk",
        ),
        (
            "medlytt/plugins/surveys/sneaky.py",
            "from medlytt.app import Medlytt\n",
            "medlytt.plugins.surveys.sneaky -> medlytt.app",
        ),
        (
            "medlytt/plugins/mystery_calls/sneaky.py",
            "from medlytt.plugins.monitoring import service\n",
            "medlytt.plugins.mystery_calls.sneaky -> medlytt.plugins.monitoring.service",
        ),
        (
            "medlytt/clock.py",
            (ROOT / "core/clock.py").read_text()
            + "\nfrom medlytt.plugins.queue_metrics import plugin\n",
            "medlytt.clock -> medlytt.plugins.queue_metrics.plugin",
        ),
        (
            "medlytt_longcalls/sneaky.py",
            "from medlytt.storage import Storage\n",
            "medlytt_longcalls.sneaky -> medlytt.storage",
        ),
    ],
    ids=[
        "plugin-imports-gateway",
        "plugin-imports-private-core",
        "plugins-import-each-other",
        "core-imports-plugin",
        "third-party-imports-private-core",
    ],
)
def test_a_deliberate_violation_breaks_a_contract(module, source, broken):
    result = check("imports", {module: source})
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout


def test_every_core_module_is_in_the_core_contract():
    """The core contract lists modules one by one (a package's descendants would include
    plugins); a new core module must be listed or it escapes the check."""
    listed = set(contracts()["core-knows-no-feature"]["source_modules"])
    modules = {f"medlytt.{p.stem}" for p in (ROOT / "core").glob("*.py") if p.stem != "__init__"}
    assert listed == modules
    public = {"medlytt.events"}
    private = set(contracts()["public-api-only"]["forbidden_modules"])
    assert private == modules - public


def test_the_core_defines_no_feature():
    """No class of monitoring, mystery calls or surveys lives in the core (the issue's own
    check: ``grep -rniE "class .*(Mystery|Survey|Monitor)" core/`` finds nothing)."""
    import re

    pattern = re.compile(r"class .*(Mystery|Survey|Monitor)", re.IGNORECASE)
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((ROOT / "core").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_every_plugin_is_in_the_independence_contract():
    """``plugins-independent`` lists its packages one by one (import-linter's independence
    contract takes no wildcard); a new plugin must be listed or it may import another
    plugin unchecked."""
    listed = set(contracts()["plugins-independent"]["modules"])
    plugins = {f"medlytt.plugins.{p.parent.name}" for p in (ROOT / "plugins").glob("*/__init__.py")}
    assert len(plugins) >= 10
    assert {m for m in listed if m.startswith("medlytt.plugins.")} == plugins
