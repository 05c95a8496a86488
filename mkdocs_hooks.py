"""MkDocs hooks of the docs site (``mkdocs.yml``: ``hooks:``), run by ``mkdocs build``.

The pages in ``docs/`` are also read on the repository host, where they link to source
files (``../plugins/monitoring/snoop.py``) and the README is the front page.  These hooks
make the same files a site without changing them:

* **No page left out.**  Every page in ``docs/`` that ``mkdocs.yml``'s ``nav`` does not
  place is added to a last section, "More", so a page another change adds is on the site
  at once (its place in ``nav`` can follow); ``tests/test_docs_site.py`` checks that every
  page is in the built navigation.
* **Includes.**  A line ``<!-- include: ../README.md -->`` is replaced by that file, its
  relative links rewritten to hold from the including page.
* **Source links.**  A link to a file outside ``docs/`` that exists in the repository
  becomes its path in code (``plugins/monitoring/snoop.py``): the site has no source
  browser.  A link to a file that does not exist is left alone, so MkDocs reports it
  and ``--strict`` fails the build.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from pathlib import Path
from typing import Any

#: The last navigation section, holding every page ``nav`` does not place.
MORE = "More"
log = logging.getLogger("mkdocs.hooks.medlytt")
INCLUDE = re.compile(r"^<!-- include: (\S+) -->$", re.M)
#: An inline Markdown link or image: text, target, optional anchor.
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s#]+)(#[^)\s]*)?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def _nav_paths(items: Any) -> set[str]:
    """Every page path named in a ``nav`` configuration (nested lists and dicts)."""
    if isinstance(items, str):
        return {items}
    if isinstance(items, dict):
        return set().union(*(_nav_paths(v) for v in items.values()))
    if isinstance(items, list):
        return set().union(*(_nav_paths(v) for v in items))
    return set()


def on_files(files: Any, config: Any) -> Any:
    """Add every documentation page that ``nav`` does not name to its last section."""
    nav = config["nav"]
    if nav is None:
        return files  # no nav: MkDocs lists every page by itself
    placed = _nav_paths(nav)
    missing = sorted(
        page.src_uri for page in files.documentation_pages() if page.src_uri not in placed
    )
    if missing:
        log.info("pages not placed in mkdocs.yml's nav, listed under %r: %s", MORE, missing)
        nav.append({MORE: missing})
    return files


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target)) or target.startswith(("/", "#"))


def _rewrite_links(text: str, source_dir: Path, page_dir: Path, docs: Path, root: Path) -> str:
    """Links of ``text`` (written in ``source_dir``) as they must read from ``page_dir``;
    links to files of the repository outside ``docs`` become their path in code."""

    def rewrite(match: re.Match[str]) -> str:
        bang, label, target, anchor = match.group(1), match.group(2), match.group(3), match[4]
        if _is_external(target):
            return match.group(0)
        resolved = Path(os.path.normpath(source_dir / target))
        if resolved.is_relative_to(docs):
            if resolved.is_dir() and (resolved / "README.md").exists():
                resolved = resolved / "README.md"  # a folder's page, as repository hosts show it
            relative = posixpath.relpath(resolved.as_posix(), page_dir.as_posix())
            return f"{bang}[{label}]({relative}{anchor or ''})"
        if not bang and resolved.is_relative_to(root) and resolved.exists():
            path = resolved.relative_to(root).as_posix()
            if label.strip("`") == path or label.strip("`") == resolved.name:
                return f"`{path}`"
            return f"{label} (`{path}`)"
        return match.group(0)

    return _outside_fences(text, lambda part: LINK.sub(rewrite, part))


def _outside_fences(text: str, change: Any) -> str:
    """Apply ``change`` to the text between fenced code blocks only."""
    out, last = [], 0
    for fence in FENCE.finditer(text):
        out.append(change(text[last : fence.start()]))
        out.append(fence.group(0))
        last = fence.end()
    out.append(change(text[last:]))
    return "".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Resolve includes, then make links to source files plain paths."""
    docs = Path(config["docs_dir"]).resolve()
    root = Path(config["config_file_path"]).resolve().parent
    page_dir = (docs / page.file.src_path).parent

    def include(match: re.Match[str]) -> str:
        included = Path(os.path.normpath(page_dir / match.group(1)))
        text = included.read_text()
        return _rewrite_links(text, included.parent, page_dir, docs, root)

    markdown = INCLUDE.sub(include, markdown)
    return _rewrite_links(markdown, page_dir, page_dir, docs, root)
