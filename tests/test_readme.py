"""The README's doc-test, the part that needs no Asterisk: its blocks parse, its demo
examples run exactly as printed, and a changed example that no longer works fails it.
The whole README and the sandbox's getting-started blocks, against a real Asterisk:
tests/asterisk/test_readme.py (the runner: tests/docblocks.py)."""

from __future__ import annotations

import pytest
from docblocks import DocTestError, parse, require_free_port, runner
from support import ROOT

README = ROOT / "README.md"


def demo_part(text: str) -> str:
    """The README up to the section on Asterisk: the demo's blocks."""
    return text.split("## Connecting a real Asterisk", 1)[0]


def test_every_command_block_of_the_readme_runs_or_says_why_not():
    blocks = [b for b in parse(README) if b.language in ("sh", "bash", "console")]
    assert len(blocks) >= 5
    for block in blocks:
        assert block.runs or block.directives["skip"].strip(), block.where


def test_a_directive_that_is_not_understood_fails(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text('<!-- doctest: backgrund="make run" -->\n```sh\nmake run\n```\n')
    with pytest.raises(DocTestError, match=r"doc\.md:1: unknown doctest directive 'backgrund'"):
        parse(doc)


def test_the_demo_examples_run_as_printed(tmp_path):
    require_free_port()
    doc = tmp_path / "README.md"
    doc.write_text(demo_part(README.read_text()))
    with runner(tmp_path / "run") as run:
        ran = run.run_document(doc)
    assert len(ran) == 2  # make run (in the background), then the demo's curl and tokens


def test_a_changed_example_that_no_longer_works_fails_the_doc_test(tmp_path):
    require_free_port()
    text = demo_part(README.read_text())
    assert "grep medlytt_queue_calls_total" in text
    broken = tmp_path / "README.md"
    broken.write_text(
        text.replace("grep medlytt_queue_calls_total", "grep medlytt_queue_calls_totl")
    )
    line = next(b.line for b in parse(broken) if "medlytt_queue_calls_totl" in b.code)
    with runner(tmp_path / "run") as run, pytest.raises(DocTestError) as failed:
        run.run_document(broken)
    assert str(failed.value).startswith(f"README.md:{line}: exit status 1")
    assert "medlytt_queue_calls_totl" in str(failed.value)
