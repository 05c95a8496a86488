"""The alerting rules and the Grafana dashboard in ``docs/`` work with Debian's promtool 2.42."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"
RULES = DOCS / "prometheus" / "medlytt-rules.yml"
DASHBOARD = DOCS / "grafana" / "medlytt-queues.json"
PROMTOOL_TIMEOUT = 60

RECORDING_RULES = 5
ALERTS = [
    "MedlyttServiceLevelBelowTarget",
    "MedlyttLongestWaitHigh",
    "MedlyttNoAgentAvailable",
    "MedlyttGatewayDown",
    "MedlyttPluginBreakerOpen",
]

# Every metric Medlytt exposes (or is adding), as named in docs/prometheus.md.
METRICS = {
    "medlytt_queue_calls_total",
    "medlytt_queue_calls_waiting",
    "medlytt_queue_longest_wait_seconds",
    "medlytt_queue_service_level_ratio",
    "medlytt_queue_service_level_target_ratio",
    "medlytt_queue_service_level_threshold_seconds",
    "medlytt_agents",
    "medlytt_agent_occupancy_ratio",
    "medlytt_queue_agents_required",
    "medlytt_events_total",
    "medlytt_gateway_up",
    "medlytt_demo_mode",
    "medlytt_plugin_errors_total",
    "medlytt_plugin_breaker_open",
}
HISTOGRAMS = {
    "medlytt_queue_wait_seconds",
    "medlytt_call_talk_seconds",
    "medlytt_call_wrapup_seconds",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Prometheus metric-name characters, so a name with digits is not cut short.
METRIC_NAME = re.compile(r"\bmedlytt[a-zA-Z0-9_:]*")


def promtool(prometheus_bin: Any, *args: str, cwd: Path | None = None) -> str:
    """Run promtool; fail with its output unless it exits 0; return stdout and stderr."""
    result = subprocess.run(
        [prometheus_bin.promtool, *args],
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT,
        check=False,
        cwd=cwd,
    )
    output = result.stdout + result.stderr
    command = " ".join(args)
    assert result.returncode == 0, f"promtool {command} exited {result.returncode}:\n{output}"
    return output


def recording_rule_names() -> set[str]:
    return set(re.findall(r"^\s*- record:\s*(\S+)\s*$", RULES.read_text(), re.M))


def allowed_names() -> set[str]:
    return (
        METRICS
        | {h + suffix for h in HISTOGRAMS for suffix in HISTOGRAM_SUFFIXES}
        | recording_rule_names()
    )


def expressions(node: Any) -> list[str]:
    """Every ``expr`` string anywhere in a dashboard, plus template-variable queries."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(expressions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(expressions(item))
    return found


def test_promtool_accepts_the_rules_file(prometheus_bin: Any) -> None:
    output = promtool(prometheus_bin, "check", "rules", str(RULES))
    assert "SUCCESS" in output
    assert f"{RECORDING_RULES + len(ALERTS)} rules found" in output, output
    assert len(recording_rule_names()) == RECORDING_RULES
    text = RULES.read_text()
    for alert in ALERTS:
        assert re.search(rf"^\s*- alert: {alert}\s*$", text, re.M), f"{alert} is missing"
    unknown = set(METRIC_NAME.findall(text)) - allowed_names() - {"medlytt"}
    assert not unknown, f"the rules use metrics Medlytt does not expose: {sorted(unknown)}"


NO_AGENT_SUMMARY = "Calls waiting in queue {queue} and no agent available"
NO_AGENT_DESCRIPTION = (
    "{waiting} calls are waiting in queue {queue} and none of its agents has been available "
    "for 1 minute."
)


def no_agent_alert(queue: str, waiting: int) -> dict[str, Any]:
    return {
        "exp_labels": {
            "severity": "critical",
            "queue": queue,
            "job": "medlytt",
            "instance": "pbx1:8470",
        },
        "exp_annotations": {
            "summary": NO_AGENT_SUMMARY.format(queue=queue),
            "description": NO_AGENT_DESCRIPTION.format(queue=queue, waiting=waiting),
        },
    }


def agents(queue: str, available: int, on_call: int) -> list[dict[str, str]]:
    """``medlytt_agents`` for one queue, every state present as Medlytt exposes it."""
    counts = {"available": available, "on_call": on_call}
    states = ["logged_out", "available", "ringing", "on_call", "wrap_up", "paused"]
    return [
        {
            "series": f'medlytt_agents{{job="medlytt",instance="pbx1:8470",'
            f'queue="{queue}",state="{state}"}}',
            "values": f"{counts.get(state, 0)}x5",
        }
        for state in states
    ]


def waiting(queue: str, calls: int) -> dict[str, str]:
    return {
        "series": f'medlytt_queue_calls_waiting{{job="medlytt",instance="pbx1:8470",'
        f'queue="{queue}"}}',
        "values": f"{calls}x5",
    }


def test_alerts_fire_on_fed_series(prometheus_bin: Any, tmp_path: Path) -> None:
    gateway_down = {
        "interval": "1m",
        "input_series": [
            {
                "series": 'medlytt_gateway_up{job="medlytt",instance="pbx1:8470",'
                'gateway="asterisk"}',
                "values": "1 0x4",  # up at 0m, down from 1m on
            },
        ],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "MedlyttGatewayDown", "exp_alerts": []},  # pending
            {
                "eval_time": "2m",
                "alertname": "MedlyttGatewayDown",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "critical",
                            "gateway": "asterisk",
                            "job": "medlytt",
                            "instance": "pbx1:8470",
                        },
                        "exp_annotations": {
                            "summary": "Medlytt gateway asterisk is down",
                            "description": "Medlytt has not reached its source through "
                            "gateway asterisk for 1 minute; queue metrics are stale until it "
                            "reconnects.",
                        },
                    }
                ],
            },
        ],
    }
    # support: calls waiting, nobody available -> fires.  sales: an agent is available.
    # billing: nobody available, but no call waiting either.
    no_agent = {
        "interval": "1m",
        "input_series": [
            waiting("support", 3),
            *agents("support", available=0, on_call=2),
            waiting("sales", 2),
            *agents("sales", available=1, on_call=1),
            waiting("billing", 0),
            *agents("billing", available=0, on_call=0),
        ],
        "alert_rule_test": [
            {"eval_time": "0m", "alertname": "MedlyttNoAgentAvailable", "exp_alerts": []},
            {
                "eval_time": "2m",
                "alertname": "MedlyttNoAgentAvailable",
                "exp_alerts": [no_agent_alert("support", 3)],
            },
        ],
    }
    agent_available = {
        "interval": "1m",
        "input_series": [waiting("sales", 4), *agents("sales", available=1, on_call=3)],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "MedlyttNoAgentAvailable", "exp_alerts": []},
        ],
    }
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [gateway_down, no_agent, agent_available],
    }
    test_file = tmp_path / "medlytt-rules-test.yml"
    test_file.write_text(json.dumps(tests, indent=2))  # JSON is valid YAML
    output = promtool(prometheus_bin, "test", "rules", str(test_file), cwd=tmp_path)
    assert "SUCCESS" in output, output


def test_dashboard_uses_only_medlytt_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert isinstance(dashboard["panels"], list) and dashboard["panels"]
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["queue"]["definition"] == "label_values(medlytt_queue_calls_total, queue)"

    exprs = expressions(dashboard)
    assert len(exprs) >= 15, exprs
    allowed = allowed_names()
    for expr in exprs:
        unknown = set(METRIC_NAME.findall(expr)) - allowed
        assert not unknown, f"{expr!r} uses metrics Medlytt does not expose: {sorted(unknown)}"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], f"panel {panel['title']!r} has no query"


def test_dashboard_queries_are_valid_promql(prometheus_bin: Any, tmp_path: Path) -> None:
    """promtool parses every panel query (Grafana's variables filled in) as a rule."""
    dashboard = json.loads(DASHBOARD.read_text())
    targets = [t for p in dashboard["panels"] for t in p.get("targets", [])]
    rules = [
        {
            "record": f"medlytt:dashboard_check_{i}",
            "expr": t["expr"].replace("$__rate_interval", "5m").replace("$queue", ".*"),
        }
        for i, t in enumerate(targets)
    ]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = promtool(prometheus_bin, "check", "rules", str(rules_file))
    assert f"{len(rules)} rules found" in output, output
