"""The OpenAPI 3.1 document of every route the hand-written documents leave out.

Three features have an OpenAPI document written by hand, with full schemas
(``docs/openapi/*.json``).  Every other route still has to say, in one place a client and
an auditor can read, who may call it and which rows each role sees: that is what the
route's own declaration (:func:`medlytt.allow`/:func:`medlytt.public`) holds, so this
document is generated from it and from the running application's route table, never
written by hand.  For each route: its path and path parameters, the query parameters its
handler reads (or its docstring names, ``?agent=``), its method, a summary (the first
line of the handler's docstring), the rule in words in ``description`` and as data in
``x-medlytt-access``, ``security`` (bearer; none for a public route) and the answers every
route has: 401 and 403 where a token and a role are needed, and ``default`` for the rest.

``python -m medlytt.docgen docs`` (``make docs``) writes it to
``docs/openapi/generated/medlytt.json``; a test fails when the committed file is stale.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import __version__
from .access import Access, access_of
from .plugin_host import PluginHost

#: Where the generated document lives, under docs/.
GENERATED = "openapi/generated/medlytt.json"
#: The folder of the hand-written documents, under docs/ (their routes are left out here).
HAND_WRITTEN = "openapi"
METHODS = ("get", "put", "post", "delete", "patch")
#: Helpers of medlytt.web that read a query parameter of the request they are given.
QUERY_HELPERS = {"query_limit": "limit", "query_since": "since"}
ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
}


def documented_by_hand(docs: Path) -> dict[tuple[str, str], str]:
    """(method, path) of every operation of the hand-written documents, and the file."""
    found: dict[tuple[str, str], str] = {}
    for document in sorted((docs / HAND_WRITTEN).glob("*.json")):
        for path, item in json.loads(document.read_text())["paths"].items():
            for method in item:
                if method in METHODS:
                    found[(method, path)] = document.name
    return found


def served_routes(host: PluginHost) -> list[tuple[str, str, Callable[..., Any], str]]:
    """(method, path, handler, owner) of every route a Medlytt with ``host``'s plugins
    serves: the core's and each plugin's (``medlytt_routes``), as the web application
    routes them (HEAD left out), ordered by path and method.  The application is built,
    not started: nothing listens and no storage is opened."""
    from .app import Medlytt
    from .config import Config
    from .web import build_web_app, plugin_routes

    with tempfile.TemporaryDirectory() as folder:
        config = Config(
            {"demo": {"enabled": False}, "storage": {"path": str(Path(folder) / "m.db")}},
            origins={},
        )
        app = Medlytt(config, host, {})
        by_plugin = asyncio.run(plugin_routes(app))
        web_app = build_web_app(app, by_plugin)
    owners = {id(route.handler): plugin for plugin, routes in by_plugin for route in routes}
    found = {
        (route.method.lower(), route.resource.canonical, route.handler)
        for route in web_app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    return [
        (method, path, handler, owners.get(id(handler), "core"))
        for method, path, handler in sorted(found, key=lambda r: (r[1], METHODS.index(r[0])))
    ]


def _plain(text: str) -> str:
    """reStructuredText literals and roles as Markdown code."""
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    return re.sub(r":(?:class|func|data|meth|mod):`~?([^`]+)`", r"`\1`", text)


def _functions(module: object) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(module)))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return {}
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _text(node: ast.AST | None) -> str | None:
    """The string a node is, when it is a string literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_query(node: ast.AST | None) -> bool:
    """``<something>.query``: a request's query parameters."""
    return isinstance(node, ast.Attribute) and node.attr == "query"


def _reads(node: ast.AST) -> Iterator[tuple[str, str]]:
    """What a function's body reads of the request: ("query", name) for a query
    parameter (``query.get("x")``, ``query["x"]``, ``"x" in query``, the query helpers),
    ("form", "") for a form body (``request.post()``), ("call", name) for a function it
    calls by name."""
    for part in ast.walk(node):
        key: str | None = None
        if isinstance(part, ast.Call) and isinstance(part.func, ast.Name):
            key = QUERY_HELPERS.get(part.func.id)
            yield "call", part.func.id
        elif isinstance(part, ast.Call) and isinstance(part.func, ast.Attribute):
            func = part.func
            key = QUERY_HELPERS.get(func.attr)
            if _is_query(func.value) and part.args:
                key = _text(part.args[0])
            reader = func.value.id if isinstance(func.value, ast.Name) else ""
            if func.attr == "post" and reader == "request":
                yield "form", ""
        elif isinstance(part, ast.Subscript) and _is_query(part.value):
            key = _text(part.slice)
        elif isinstance(part, ast.Compare) and part.comparators:
            key = _text(part.left) if _is_query(part.comparators[0]) else None
        if key is not None:
            yield "query", key


def handler_reads(handler: Callable[..., Any]) -> tuple[list[str], bool]:
    """The query parameters a handler reads, itself or through the functions of its own
    module it calls (as far as they go), and whether it reads a form body."""
    module = inspect.getmodule(handler)
    functions = _functions(module) if module is not None else {}
    start = functions.get(getattr(handler, "__name__", ""))
    seen: set[str] = set()
    todo = [start] if start is not None else []
    query: set[str] = set()
    form = False
    while todo:
        node = todo.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        for kind, name in _reads(node):
            if kind == "query":
                query.add(name)
            elif kind == "form":
                form = True
            elif name in functions and name not in seen:
                todo.append(functions[name])
    return sorted(query), form


def rule_words(rule: Access) -> str:
    """A route's rule in one sentence, as a reader of the document needs it."""
    if rule.public:
        return f"Public: no token needed ({rule.why_public})."
    roles = ", ".join(rule.roles)
    rows = f" Rows: {rule.rows}." if rule.rows else ""
    login = f" A browser without a session is sent to {rule.login}." if rule.login else ""
    return f"Who may call: {roles} (bearer token).{rows}{login}"


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.replace("{", " by ").replace("}", " "))
    return method + "".join(w[:1].upper() + w[1:] for w in words)


def operation(
    method: str, path: str, handler: Callable[..., Any], owner: str, rule: Access
) -> dict[str, Any]:
    """The OpenAPI operation of one route."""
    doc = inspect.cleandoc(handler.__doc__ or "")
    first = doc.split("\n\n")[0].split("\n")[0].strip() if doc else ""
    summary = _plain(first) or f"{method.upper()} {path}"
    description = rule_words(rule) + (f"\n\n{_plain(doc)}" if doc else "")
    query, form = handler_reads(handler)
    query = sorted(set(query) | set(re.findall(r"[?&]([a-z_]+)=", doc)))
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{([^}:]+)", path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in query
    ]
    responses: dict[str, Any] = {}
    if not rule.public:
        responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
        responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    responses["default"] = {"$ref": "#/components/responses/Answer"}
    op: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "tags": [owner],
        "summary": summary,
        "description": description,
        "x-medlytt-access": rule.describe() | ({"login": rule.login} if rule.login else {}),
        "security": [] if rule.public else [{"bearerAuth": []}],
    }
    if params:
        op["parameters"] = params
    if method in ("post", "put", "patch"):
        kind = "application/x-www-form-urlencoded" if form else "application/json"
        op["requestBody"] = {
            "required": False,
            "content": {kind: {"schema": {"type": "object"}}},
        }
    op["responses"] = responses
    return op


def openapi_document(host: PluginHost, docs: Path) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every served route no hand-written document has."""
    by_hand = documented_by_hand(docs)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler, owner in served_routes(host):
        if (method, path) in by_hand:
            continue
        rule = access_of(handler)
        if rule is None:  # never served (medlytt.web refuses it): nothing to document
            continue
        paths.setdefault(path, {})[method] = operation(method, path, handler, owner, rule)
    elsewhere = ", ".join(sorted({f"docs/openapi/{name}" for name in by_hand.values()}))
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Medlytt API: every route and its access rule",
            "version": __version__,
            "description": (
                "Generated by `python -m medlytt.docgen docs` from the routes Medlytt "
                "serves and each route's declaration (`medlytt.allow`/`medlytt.public`). "
                "Do not edit. Every route says who may call it and which rows each role "
                "sees (admin: all; supervisor: the agents of their own teams; agent: their "
                "own rows), in `description` and as `x-medlytt-access`. Routes with a "
                f"hand-written document and full schemas are there instead: {elsewhere}. "
                'Every error has the JSON body `{"error": str, "status": int}`. '
                "Prose: docs/security.md."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8470"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
            "responses": {
                "Unauthorized": {
                    "description": "No token, or one that is malformed, revoked or of a "
                    "disabled user.",
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    "content": error,
                },
                "Forbidden": {
                    "description": "The caller's role may not call this route, or the rows "
                    "asked for (e.g. `?agent=`) are not theirs to see.",
                    "content": error,
                },
                "Answer": {
                    "description": "The route's answer; an error has the JSON body "
                    '`{"error", "status"}` (422 names the bad input).'
                },
            },
        },
    }


def openapi_json(host: PluginHost, docs: Path) -> str:
    """The document as committed: indented JSON ending in a newline."""
    return json.dumps(openapi_document(host, docs), indent=2, ensure_ascii=False) + "\n"
