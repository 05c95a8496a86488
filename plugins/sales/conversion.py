"""Conversion from calls' outcomes: per agent, per queue, and per agent in each queue.

A call counts once, with its current outcome (a replaced outcome is history, not a second
call).  Only calls with an outcome count: Medlytt cannot tell a call that sold nothing from
one whose agent set no outcome, so the denominator is the calls with an outcome, and how
many those are is beside each figure.

* ``conversion``: (sales + agreements) / calls with an outcome: the share of calls that
  ended with the customer saying yes to something.
* ``sale_rate``: sales / calls with an outcome.
* ``value``: the sum of ``value`` of the sales and agreements that gave one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

OUTCOMES = ("sale", "agreement", "no_sale")
#: The outcomes that count as converted.
CONVERTED = ("sale", "agreement")


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Calls, the count of each outcome, conversion, sale rate and value of ``rows``."""
    rows = list(rows)
    counts = Counter(row["outcome"] for row in rows)
    calls = len(rows)
    converted = sum(counts[o] for o in CONVERTED)
    value = sum(
        float(row["value"])
        for row in rows
        if row["outcome"] in CONVERTED and row.get("value") is not None
    )
    return {
        "calls": calls,
        **{outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
        "conversion": round(converted / calls, 4) if calls else None,
        "sale_rate": round(counts["sale"] / calls, 4) if calls else None,
        "value": round(value, 2),
        "no_sale_reasons": dict(
            sorted(Counter(r["reason"] for r in rows if r["outcome"] == "no_sale").items())
        ),
    }


def _grouped(rows: list[Mapping[str, Any]], *keys: str) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return [
        {**dict(zip(keys, key, strict=True)), **summary(group)}
        for key, group in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    ]


def conversion(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per agent, per queue, per agent and queue, and in total."""
    rows = list(rows)
    return {
        "total": summary(rows),
        "agents": _grouped(rows, "agent_id"),
        "queues": _grouped(rows, "queue"),
        "agent_queues": _grouped(rows, "agent_id", "queue"),
    }
