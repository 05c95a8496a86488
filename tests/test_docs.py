"""The documentation matches the code it describes."""

import re
from pathlib import Path

from medlytt import docgen, hookspecs
from medlytt.config import CoreConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"
TESTS = Path(__file__).resolve().parent


def test_generated_references_are_up_to_date():
    for name, text in docgen.generated().items():
        committed = (DOCS / name).read_text()
        assert committed == text, f"docs/{name} is stale: run `make docs`"


def test_every_hook_has_a_guide_section():
    """(Each hook's own test is in tests/test_hook_contract.py, checked there by name.)"""
    guide = (DOCS / "plugins.md").read_text()
    for hook in hookspecs.HOOK_NAMES:
        assert re.search(rf"^### .*\b{hook}\b", guide, re.M), f"{hook} has no section in plugins.md"
    assert len(hookspecs.HOOK_NAMES) >= 10


def test_the_plugin_guide_uses_only_the_public_api():
    """Every Python example in plugins.md compiles, and every name it imports from
    ``medlytt`` is public (in ``medlytt.__all__``): the guide claims only what exists."""
    import ast

    import medlytt

    guide = (DOCS / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    assert len(blocks) >= 10
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("medlytt"):
                assert node.module in ("medlytt", "medlytt.events"), node.module
                for alias in node.names:
                    assert alias.name in medlytt.__all__, f"{alias.name} is not public"
    for name in medlytt.__all__:
        assert hasattr(medlytt, name), name


def test_every_core_config_key_is_documented():
    text = (DOCS / "configuration.md").read_text()
    for section in CoreConfig.__struct_fields__:
        assert f"### [{section}]" in text
        cls = getattr(CoreConfig(), section).__class__
        for key in cls.__struct_fields__:
            assert f"| `{key}` |" in text, f"[{section}] {key} is not in docs/configuration.md"


def test_architecture_page_has_the_event_flow_diagram():
    text = (DOCS / "architecture.md").read_text()
    assert "```mermaid" in text
    for part in ("EventBus.publish", "LiveState.apply", "EventJournal", "medlytt_event"):
        assert part in text


def test_every_public_name_is_in_the_plugin_guide():
    """``medlytt.__all__`` is the whole public API; each name is in the guide's prose
    (in backticks, not only inside an example), so a plugin author finds what it is for."""
    import medlytt

    guide = re.sub(r"```.*?```", "", (DOCS / "plugins.md").read_text(), flags=re.S)
    missing = [name for name in medlytt.__all__ if f"`{name}`" not in guide]
    assert missing == [], f"add these to docs/plugins.md, section 2, one line each: {missing}"


def test_the_generated_openapi_document_has_every_route_and_its_rule():
    """Every route served is in a hand-written OpenAPI document or in the generated one,
    which says its rule as the route declares it: roles and rows (``x-medlytt-access``
    and the description), bearer security but for public routes, and 401/403 where a
    token and a role are needed.  (The file itself is checked by the test above.)"""
    import json

    from medlytt import route_reference
    from medlytt.access import access_of

    document = json.loads((DOCS / route_reference.GENERATED).read_text())
    assert document["openapi"].startswith("3.1")
    by_hand = route_reference.documented_by_hand(DOCS)
    routes = route_reference.served_routes(docgen.builtin_host())
    assert len(routes) >= 100
    for method, path, handler, _owner in routes:
        if (method, path) in by_hand:
            assert method not in document["paths"].get(path, {}), f"{method} {path} twice"
            continue
        op = document["paths"][path][method]
        rule = access_of(handler)
        assert rule is not None
        assert op["x-medlytt-access"]["roles" if not rule.public else "why"] == (
            list(rule.roles) if not rule.public else rule.why_public
        ), f"{method} {path}"
        assert route_reference.rule_words(rule) in op["description"]
        assert op["security"] == ([] if rule.public else [{"bearerAuth": []}])
        refusals = {"401", "403"} & set(op["responses"])
        assert refusals == (set() if rule.public else {"401", "403"}), f"{method} {path}"
        assert "default" in op["responses"]
