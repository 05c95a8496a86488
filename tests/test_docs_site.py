"""The docs site: it builds with no warning, holds every page, every command and every
config key, and its plugin tutorial is a package that works as the page says.

The build is ``mkdocs build --strict`` (``make docs-site``): a broken link or anchor, a
missing page, a nav entry without its file, each fails it.  The references it shows are
generated (``make docs``, ``medlytt.docgen``); tests/test_docs.py checks that the
committed ones are up to date.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import click
import msgspec
import pytest
from medlytt import docgen
from medlytt.testing import add_user_with_token, running_medlytt, wait_until
from support import MEDLYTT, ROOT, medlytt_env, pip_install_package

DOCS = ROOT / "docs"
MKDOCS = str(Path(sys.executable).with_name("mkdocs"))
TUTORIAL = DOCS / "tutorial/medlytt-pickup"
#: Folders of docs/ that MkDocs leaves out (mkdocs.yml ``exclude_docs``): build output.
EXCLUDED = ("egg-info", "__pycache__", "build")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module exactly as ``make docs-site`` builds it."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [MKDOCS, "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(target)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert "WARNING" not in log, log
    return target


def doc_pages() -> list[Path]:
    """Every Markdown page under docs/ that MkDocs builds."""
    return sorted(
        path
        for path in DOCS.rglob("*.md")
        if not any(part.endswith(EXCLUDED) for part in path.relative_to(DOCS).parts)
    )


def page_url(path: Path) -> str:
    """The site address of a page (MkDocs' directory URLs: ``a/b.md`` → ``a/b/``)."""
    relative = path.relative_to(DOCS).with_suffix("")
    if relative.name in ("index", "README"):
        relative = relative.parent
    return "" if str(relative) == "." else f"{relative.as_posix()}/"


class NavLinks(HTMLParser):
    """The addresses the site's main navigation links to."""

    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and "md-nav__link" in (values.get("class") or "").split():
            href = values.get("href") or ""
            if not href.startswith(("#", "http")):
                self.links.add(os.path.normpath(href).removeprefix(".").lstrip("/"))


def test_the_site_builds_with_no_warning(site):
    assert (site / "index.html").exists()
    assert (site / "plugin-tutorial/index.html").exists()
    assert (site / "reference/configuration/index.html").exists()


def test_every_page_is_in_the_navigation(site):
    """A page added to docs/ is on the site and in its navigation even before mkdocs.yml
    gives it a place (mkdocs_hooks.py puts it under "More")."""
    parser = NavLinks()
    parser.feed((site / "index.html").read_text())
    nav = {link.rstrip("/") + "/" if link not in ("", ".") else "" for link in parser.links}
    missing = [str(p.relative_to(DOCS)) for p in doc_pages() if page_url(p) not in nav]
    assert not missing, f"pages missing from the site's navigation: {missing}"
    assert len(doc_pages()) >= 25


def test_links_to_source_files_become_paths_and_the_readme_is_the_front_page(site):
    front = (site / "index.html").read_text()
    assert (
        "Two commands" in front and 'href="install-asterisk/#several-pbxs-in-one-medlytt"' in front
    )
    monitoring = (site / "monitoring/index.html").read_text()
    assert "<code>plugins/monitoring/snoop.py</code>" in monitoring
    assert "../plugins/monitoring" not in monitoring


def build_scratch_site(
    folder: Path, pages: dict[str, str], nav: list[str]
) -> subprocess.CompletedProcess[str]:
    """Build a site of ``pages`` in ``folder`` with this repository's mkdocs.yml settings
    and hooks, its nav replaced by ``nav``."""
    for name, text in pages.items():
        (folder / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "docs" / name).write_text(text)
    settings = (ROOT / "mkdocs.yml").read_text()
    assert "\nnav:" in settings
    entries = "".join(f"  - {page}\n" for page in nav)
    (folder / "mkdocs.yml").write_text(settings.split("\nnav:")[0] + "\nnav:\n" + entries)
    shutil.copy(ROOT / "mkdocs_hooks.py", folder)
    return subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(folder / "site")],
        cwd=folder,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_broken_link_fails_the_build(tmp_path):
    """--strict is what makes the site trustworthy: a link to a page or a source file
    that does not exist is an error, not a warning in a log nobody reads."""
    (tmp_path / "core").mkdir()
    page = "# Home\n\n[gone](../core/gone.py) and [lost](lost.md)\n"
    result = build_scratch_site(tmp_path, {"index.md": page}, ["index.md"])
    assert result.returncode != 0
    assert "'../core/gone.py'" in result.stderr and "'lost.md'" in result.stderr


def test_a_page_the_nav_does_not_name_is_listed_under_more(tmp_path):
    pages = {"index.md": "# Home\n", "new-feature.md": "# A new feature\n"}
    result = build_scratch_site(tmp_path, pages, ["index.md"])
    assert result.returncode == 0, result.stderr
    assert "['new-feature.md']" in result.stderr  # said in the build's log
    html = (tmp_path / "site/index.html").read_text()
    parser = NavLinks()
    parser.feed(html)
    assert "new-feature" in parser.links
    assert re.search(r'md-ellipsis">\s*More\s*</span>', html), "no section More in the nav"


# ------------------------------------------------------------------ the references


def cli_paths(group: click.Group) -> Iterator[tuple[str, list[str]]]:
    """Every command's path (``medlytt user add``) and its options' first names."""
    for command, ctx in docgen.cli_commands(group):
        options = [
            p.opts[0]
            for p in command.params
            if isinstance(p, click.Option) and not p.hidden and p.opts
        ]
        yield ctx.command_path, options


def test_every_cli_command_and_option_is_in_the_reference():
    """The core's commands and every built-in plugin's (hook medlytt_cli_commands)."""
    text = (DOCS / "reference/cli.md").read_text()
    sections = dict(re.findall(r"^#+ (medlytt[\w -]*)\n(.*?)(?=^#+ medlytt|\Z)", text, re.M | re.S))
    paths = list(cli_paths(docgen.cli_group()))
    assert {"medlytt serve", "medlytt user add", "medlytt sandbox start"} <= {p for p, _ in paths}
    for path, options in paths:
        assert path in sections, f"`{path}` is not in docs/reference/cli.md: run `make docs`"
        for option in options:
            assert f"`{option}" in sections[path], f"{path} {option} is not in the reference"


def schema_keys(path: str, schema: type[msgspec.Struct]) -> Iterator[tuple[str, str]]:
    """(table, key) of every key of a schema, nested tables included, walked here on
    their own (not with the generator's walk) from msgspec's view of the schema."""
    for field in msgspec.structs.fields(schema):
        yield path, field.name
        info = msgspec.inspect.type_info(field.type)
        for kind in getattr(info, "types", (info,)):
            inner = getattr(kind, "item_type", None) or getattr(kind, "value_type", None) or kind
            if isinstance(inner, msgspec.inspect.StructType):
                yield from schema_keys(f"{path}.{field.name}", inner.cls)


def test_every_config_key_is_in_the_reference():
    text = (DOCS / "reference/configuration.md").read_text()
    tables: dict[str, set[str]] = {}
    for heading, body in re.findall(r"^## `\[+([^\]]+)\]+`\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        tables[heading.replace(".<name>", "")] = set(re.findall(r"^\| `(\w+)` \|", body, re.M))
    sections = docgen.config_sections()
    assert {"server", "storage", "demo", "asterisk", "surveys"} <= {s for s, _, _ in sections}
    for section, owner, schema in sections:
        for table, key in schema_keys(section, schema):
            assert key in tables.get(table, set()), (
                f"[{table}] {key} is not in docs/reference/configuration.md: run `make docs`"
            )
        if owner != "core":
            assert "enabled" in tables[section]


def test_every_config_key_says_what_it_means():
    """The reference takes a key's meaning from the ``#:`` comment above it in its schema;
    a key without one would stand in the reference with its type and default only."""
    silent = [
        f"[{table.heading.strip('[]')}] {key.key}"
        for table in docgen.all_config_tables()
        for key in table.keys
        if not key.meaning.strip()
    ]
    assert not silent, (
        f"keys with no meaning: {silent}; write a `#:` comment above each in its schema "
        "(a msgspec Struct), then run `make docs`"
    )


# ------------------------------------------------------------------ the plugin tutorial


def tutorial_blocks() -> dict[str, list[str]]:
    """The tutorial's code blocks by the file they show (their ``title``), in order."""
    text = (DOCS / "plugin-tutorial.md").read_text()
    blocks: dict[str, list[str]] = {}
    for name, code in re.findall(
        r'^```\w+ title="([^"(]+?)(?: \(continued\))?"\n(.*?)^```$', text, re.M | re.S
    ):
        blocks.setdefault(name, []).append(code.strip("\n"))
    return blocks


def test_the_tutorial_shows_every_file_of_its_plugin_exactly():
    """Each file of docs/tutorial/medlytt-pickup is the tutorial's blocks titled with
    its name, in order, two blank lines apart: the page cannot drift from the code."""
    blocks = tutorial_blocks()
    files = sorted(
        p.relative_to(TUTORIAL).as_posix()
        for p in TUTORIAL.rglob("*")
        if p.is_file() and p.suffix in (".py", ".toml") and "egg-info" not in str(p)
    )
    assert sorted(blocks) == files
    for name in files:
        expected = (TUTORIAL / name).read_text()
        assert "\n\n\n".join(blocks[name]) + "\n" == expected, f"the tutorial's {name} differs"


def test_the_tutorial_plugin_imports_only_the_public_api():
    import medlytt

    for path in (TUTORIAL / "medlytt_pickup").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("medlytt."):
                assert node.module == "medlytt.events", f"{path.name} imports {node.module}"
            if isinstance(node, ast.ImportFrom) and node.module == "medlytt":
                for alias in node.names:
                    assert alias.name in medlytt.__all__, f"{alias.name} is not public"


@pytest.fixture(scope="module")
def tutorial_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial's package pip-installed, as a separate package, into a folder of its
    own (never into .venv, where it would load in every later `make run`)."""
    return pip_install_package(TUTORIAL, tmp_path_factory.mktemp("tutorial-plugin"))


def with_site(site: Path) -> dict[str, str]:
    env = medlytt_env()
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    return env


def test_the_installed_tutorial_plugin_is_listed(tutorial_site):
    result = subprocess.run(
        [MEDLYTT, "plugins"],
        env=with_site(tutorial_site),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("pickup ")]
    assert "package medlytt-pickup" in line and " ok " in line
    for hook in ("medlytt_config_schema", "medlytt_event", "medlytt_metrics", "medlytt_routes"):
        assert hook in line


async def test_the_installed_tutorial_plugin_receives_the_demo_centers_events(
    tutorial_site, tmp_path, monkeypatch, medlytt_client
):
    """Through its entry point, as a separate package: the module is declared, counts
    nothing while no team has it on (the demo's history went by), and once a team of demo
    agents has it on, the demo's calls reach it: counts per agent, slow answers on
    /metrics, the rows on its route."""
    monkeypatch.syspath_prepend(str(tutorial_site))
    demo = {"enabled": True, "history_hours": 0.5, "seed": 7, "speed": 50, "ring_mean_seconds": 8}
    async with running_medlytt({"demo": demo}, db_path=tmp_path / "medlytt.db") as app:
        assert app.host.get("pickup").source == "package medlytt-pickup"
        assert app.modules.declared["pickup"].number == 8
        pickup = app.plugin_state["pickup"]
        await app.settle()
        assert pickup.agents == {}  # no team has the module on
        for n in range(1001, 1017):
            add_user_with_token(app, f"agent{n}", "agent", teams=["demo-a"], agent_id=f"DEMO/{n}")
        client = await medlytt_client(app)
        switch = await client.put("/api/teams/demo-a/modules/pickup", json={"active": True})
        assert switch.status == 200
        await wait_until(lambda: sum(a.answered for a in pickup.agents.values()) >= 10, 60)
        assert all(agent.startswith("DEMO/") for agent in pickup.agents)
        slow = sum(a.slow for a in pickup.agents.values())  # read with the metric, no await
        total = sum(
            app.metric("medlytt_pickup_slow_answers_total", {"queue": q}) or 0
            for q in ("support", "sales", "billing")
        )
        assert total == slow
        body = await (await client.get("/api/pickup")).json()
        rows = {row["agent_id"] for row in body["agents"]}
        assert rows and rows <= set(pickup.agents)


def test_the_tutorials_own_tests_pass(tutorial_site, tmp_path):
    """The tests the tutorial prints, run as its reader runs them: pytest in the package."""
    copy = tmp_path / "medlytt-pickup"
    shutil.copytree(TUTORIAL, copy, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=copy,
        env=with_site(tutorial_site),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = re.findall(
        r"^(?:async )?def test_", (TUTORIAL / "tests/test_pickup.py").read_text(), re.M
    )
    assert f"{len(tests)} passed" in result.stdout, result.stdout
