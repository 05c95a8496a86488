"""The README works as written: every command block, run exactly as printed, from `make run`
and the demo through the sandbox, a supervisor listening and whispering, to mystery calls;
then the getting-started blocks of docs/asterisk-sandbox.md.  The runner and its directives:
tests/docblocks.py; the README's demo part and a deliberately broken copy: tests/test_readme.py.

The examples use the sandbox's default instance and port 8470, as a reader would; an
instance this test started is stopped again at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_root
from docblocks import require_free_port, runner
from medlytt.gateways.asterisk.sandbox import AsteriskSandbox, SandboxSettings
from softphone import Baresip, baresip_binary, sandbox_phone
from support import ROOT

README = ROOT / "README.md"
SANDBOX_DOC = ROOT / "docs" / "asterisk-sandbox.md"


@pytest.fixture
def default_sandbox() -> Iterator[AsteriskSandbox]:
    """The instance the docs' commands use; stopped afterwards unless it ran before."""
    require_root()
    sandbox = AsteriskSandbox(SandboxSettings())
    was_running = sandbox.status() is not None
    try:
        yield sandbox
    finally:
        if not was_running:
            sandbox.stop()


def test_every_readme_example_runs_as_printed(default_sandbox, tmp_path):
    require_free_port()
    phones: list[Baresip] = []

    def phone(number: str) -> None:
        """``phone="2001"``: what the README asks of the reader, a softphone as 2001."""
        softphone = sandbox_phone(
            default_sandbox, baresip_binary(), tmp_path / f"phone-{number}", phone=number
        )
        softphone.start()
        phones.append(softphone)

    try:
        with runner(tmp_path / "run", hooks={"phone": phone}) as run:
            ran = run.run_document(README)
    finally:
        for softphone in phones:
            softphone.stop()
    assert len(ran) == 5, [b.where for b in ran]


def test_the_sandbox_getting_started_blocks_run_as_printed(default_sandbox, tmp_path):
    baresip_binary()  # the baresip block needs it installed, as the doc says
    with runner(tmp_path / "run") as run:
        ran = run.run_document(SANDBOX_DOC)
    assert [Path(b.where).name.split(":")[0] for b in ran] == ["asterisk-sandbox.md"] * 2
