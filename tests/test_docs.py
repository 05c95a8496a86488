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


def test_every_hook_has_a_guide_section_and_a_test():
    guide = (DOCS / "plugins.md").read_text()
    tests = "".join(p.read_text() for p in TESTS.rglob("*.py") if p.name != "test_docs.py")
    examples = "".join(p.read_text() for p in (DOCS / "examples").rglob("*.py"))
    for hook in hookspecs.HOOK_NAMES:
        assert re.search(rf"^### .*\b{hook}\b", guide, re.M), f"{hook} has no section in plugins.md"
        assert hook in tests + examples, f"{hook} is not exercised by any test"
    assert len(hookspecs.HOOK_NAMES) >= 10


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
