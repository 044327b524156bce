#!/usr/bin/env python3
"""Consistency of the monitoring objects in a rendered overlay (scripts/k8s-validate.sh):

- every gRPC Deployment has a `metrics` container port and exactly one PodMonitor selects
  its pods on that port;
- every alert of the PrometheusRules has a severity, a summary and a `runbook_url` whose
  anchor is a heading of k8s/RUNBOOK.md, and k8s/base/monitoring/rules_test.yaml tests it
  both firing and quiet;
- the Grafana dashboard ConfigMap carries the sidecar label, its JSON parses, and its
  queries name only series the services export (platform/src/metrics.rs's table), the rules
  record, or Kong's plugin and kube-state-metrics provide.

Usage: check_monitoring.py RENDERED.yaml
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "histogram_quantile", "max", "min", "and", "or", "unless",
    "deriv", "le", "on", "without", "avg", "count", "offset", "bool", "ignoring", "group_left",
    "label_values", "humanize",
}


def anchors(markdown: str) -> set[str]:
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(text.replace(" ", "-"))
    return out


def exported_series() -> set[str]:
    src = (ROOT / "services/platform/src/metrics.rs").read_text()
    names = set()
    for line in src.splitlines():
        if line.startswith("//! | `"):
            names.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


def main() -> int:
    docs = [d for d in yaml.safe_load_all(Path(sys.argv[1]).read_text()) if d]
    failed: list[str] = []
    passed = 0

    def ok(cond: bool, msg: str) -> None:
        nonlocal passed
        if cond:
            passed += 1
        else:
            failed.append(msg)

    monitors = [d for d in docs if d.get("kind") == "PodMonitor"]
    for d in docs:
        if d.get("kind") != "Deployment":
            continue
        labels = d["spec"]["template"]["metadata"].get("labels") or {}
        if labels.get("app.kubernetes.io/component") != "grpc-service":
            continue
        name = d["metadata"]["name"]
        ports = {p.get("name") for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        ok("metrics" in ports, f"Deployment {name}: no `metrics` container port")
        selecting = [
            m for m in monitors
            if not (m["spec"].get("namespaceSelector") or {}).get("matchNames")
            and all(labels.get(k) == v for k, v in m["spec"]["selector"].get("matchLabels", {}).items())
        ]
        ok(len(selecting) == 1, f"Deployment {name}: {len(selecting)} PodMonitors select it, expected 1")
        for m in selecting:
            ok(any(e.get("port") == "metrics" for e in m["spec"]["podMetricsEndpoints"]),
               f"PodMonitor {m['metadata']['name']}: does not scrape the `metrics` port")

    runbook = anchors((ROOT / "k8s/RUNBOOK.md").read_text())
    tests = yaml.safe_load((ROOT / "k8s/base/monitoring/rules_test.yaml").read_text())
    firing, quiet = set(), set()
    for t in tests["tests"]:
        for a in t.get("alert_rule_test", []):
            (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    recorded = set()
    alerts = 0
    for d in docs:
        if d.get("kind") != "PrometheusRule":
            continue
        for g in d["spec"]["groups"]:
            for r in g["rules"]:
                if "record" in r:
                    recorded.add(r["record"])
                    continue
                alerts += 1
                name = r["alert"]
                ok(r.get("labels", {}).get("severity") in {"critical", "warning"}, f"alert {name}: severity critical or warning")
                ok(bool(r.get("annotations", {}).get("summary")), f"alert {name}: no summary")
                url = r.get("annotations", {}).get("runbook_url", "")
                ok("RUNBOOK.md#" in url and url.split("#", 1)[1] in runbook,
                   f"alert {name}: runbook_url {url!r} is not a heading of k8s/RUNBOOK.md")
                ok(name in firing, f"alert {name}: rules_test.yaml has no case where it fires")
                ok(name in quiet, f"alert {name}: rules_test.yaml has no case where it stays quiet")
    ok(alerts > 0, "no alerts in the overlay")

    known = exported_series() | recorded | {"up", "kube_pod_container_status_restarts_total"}
    dashboards = [d for d in docs if d.get("kind") == "ConfigMap" and (d["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    ok(len(dashboards) == 1, f"{len(dashboards)} dashboard ConfigMaps with the grafana_dashboard label, expected 1")
    for cm in dashboards:
        for key, text in cm["data"].items():
            try:
                dash = json.loads(text)
            except json.JSONDecodeError as e:
                ok(False, f"dashboard {key}: {e}")
                continue
            exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
            ok(len(exprs) > 0, f"dashboard {key}: no queries")
            for e in exprs:
                # Drop selectors, strings, ranges and the label lists of `by (...)` / `without (...)`.
                bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)', "", e)
                for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
                    if word in PROMQL_WORDS or word.startswith("kong_"):
                        continue
                    series = re.sub(r"_(bucket|count|sum)$", "", word)
                    ok(word in known or series in known or word.startswith("__"),
                       f"dashboard {key}: {word!r} is not a series anything exports")

    for f in failed:
        print(f"FAIL monitoring: {f}")
    print(f"Monitoring: {passed} checks passed, {len(failed)} failed ({len(monitors)} PodMonitors, {alerts} alerts)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
