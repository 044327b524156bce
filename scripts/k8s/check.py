#!/usr/bin/env python3
"""Consistency checks of a rendered overlay against the rest of the repository.

Schemas say an object is well formed; this says the objects fit together and match the
API contract:
  routes    the google.api.http annotations in proto/ = the routes of gateway/kong/kong.yml
            = the Ingresses (path, methods, regex priority, protocols, strip-path, backend
            Service and port), with the plugins kong.yml puts on each route (KongPlugins
            with the same plugin and config, global plugins included);
  services  each backend Service speaks gRPC to Kong with kong.yml's timeouts and
            grpc-gateway plugin, and selects a Deployment that serves that port;
  consumer  the KongConsumer is kong.yml's, and the issuer its credential must carry is
            the JWT_ISSUER the services use;
  protos    the proto bundle ConfigMap holds gateway/kong/protos, and the Helm values mount
            it where the grpc-gateway plugins look;
  topics    a KafkaTopic for every topic of contracts::topics and its dead-letter topic,
            replicated no more than the brokers allow;
  workloads every Deployment: non-root, read-only root filesystem, no privilege
            escalation, no capabilities, requests and limits, gRPC readiness/liveness
            probes, graceful termination, an HPA, a PDB, ingress and egress policies, and
            only the Secrets k8s/README.md tells operators to create;
  overlay   dev: one replica; prod: at least two, topics replicated 3 times.

Usage: check.py --overlay dev|prod [--root DIR] RENDERED.yaml
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

# Secrets operators create by hand (k8s/README.md); everything else must be made by an
# operator from an object in the overlay (CloudNativePG's `<cluster>-app`).
EXTERNAL_SECRETS = {"jwt-keys", "mistral-api-key", "kong-jwt-credential"}
HTTP_VERBS = ("get", "put", "post", "delete", "patch")


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def ok(self, cond: bool, area: str, message: str) -> bool:
        if cond:
            self.passed += 1
        else:
            self.failed.append(f"[{area}] {message}")
        return cond


def load_yaml_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# ---------------------------------------------------------------- the API contract


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def balanced(text: str, open_at: int) -> str:
    """The text between the brace at open_at and its matching close."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    raise ValueError("unbalanced braces")


def template_to_regex(template: str) -> str:
    """google.api.http path template -> the Kong regex path kong.yml uses."""

    def var(m: re.Match) -> str:
        pattern = m.group(2)
        if pattern in (None, "*"):
            return "[^/]+"
        if pattern == "**":
            return ".+"
        raise ValueError(f"unsupported path variable pattern {m.group(0)!r} in {template!r}")

    return "~" + re.sub(r"\{([^}=]+)(?:=([^}]*))?\}", var, template) + "$"


def proto_routes(proto_root: Path) -> dict[tuple[str, str], str]:
    """(HTTP verb, Kong regex path) -> fully qualified gRPC method, from every proto."""
    routes: dict[tuple[str, str], str] = {}
    for path in sorted(proto_root.rglob("*.proto")):
        if "google" in path.parts:
            continue
        text = strip_comments(path.read_text())
        pkg = re.search(r"\bpackage\s+([\w.]+)\s*;", text)
        for svc in re.finditer(r"\bservice\s+(\w+)\s*\{", text):
            body = balanced(text, svc.end() - 1)
            for rpc in re.finditer(r"\brpc\s+(\w+)\s*\([^)]*\)\s*returns\s*\([^)]*\)\s*(;|\{)", body):
                if rpc.group(2) != "{":
                    continue
                rpc_body = balanced(body, rpc.end() - 1)
                opt = re.search(r"option\s*\(\s*google\.api\.http\s*\)\s*=\s*\{", rpc_body)
                if not opt:
                    continue
                http = balanced(rpc_body, opt.end() - 1)
                method = f"{pkg.group(1) if pkg else ''}.{svc.group(1)}.{rpc.group(1)}"
                for verb, tmpl in re.findall(r"\b(" + "|".join(HTTP_VERBS) + r')\s*:\s*"([^"]*)"', http):
                    routes[(verb.upper(), template_to_regex(tmpl))] = method
    return routes


def contract_topics(lib_rs: Path) -> list[str]:
    text = lib_rs.read_text()
    m = re.search(r"pub mod topics\s*\{", text)
    if not m:
        raise SystemExit(f"{lib_rs}: no `pub mod topics`")
    body = balanced(text, m.end() - 1)
    return re.findall(r'pub const \w+\s*:\s*&str\s*=\s*"([^"]+)"\s*;', body)


# ---------------------------------------------------------------- helpers


def key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata", {})
    return obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def split_csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def plugin_signature(plugin: str, config) -> str:
    return plugin + " " + yaml.safe_dump(config, sort_keys=True)


def selects(selector: dict | None, labels: dict) -> bool:
    """A label selector (matchLabels/matchExpressions, or a plain map) against labels."""
    if selector is None:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        match_labels, exprs = selector, []
    else:
        match_labels, exprs = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for e in exprs:
        val, op, vals = labels.get(e["key"]), e["operator"], e.get("values") or []
        if (op == "In" and val not in vals) or (op == "NotIn" and val in vals):
            return False
        if (op == "Exists" and val is None) or (op == "DoesNotExist" and val is not None):
            return False
    return True


# ---------------------------------------------------------------- the checks


class Overlay:
    def __init__(self, docs: list[dict]):
        self.docs = docs
        self.by_key = {key(d): d for d in docs}

    def kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.by_key.get((kind, namespace, name))


def check_routes(c: Checks, ov: Overlay, kong: dict, protos: dict) -> None:
    area = "routes"
    kong_routes: dict[tuple[frozenset, str], dict] = {}
    global_plugins = [plugin_signature(p["name"], p.get("config")) for p in kong.get("plugins", [])]
    for svc in kong["services"]:
        for r in svc.get("routes", []):
            for path in r["paths"]:
                kong_routes[(frozenset(r["methods"]), path)] = {"route": r, "service": svc}

    # proto annotations <-> kong.yml
    from_kong = {}
    for (methods, path), v in kong_routes.items():
        for m in methods - {"OPTIONS"}:
            from_kong[(m, path)] = v["route"]["name"]
    for k, method in sorted(protos.items()):
        c.ok(from_kong.get(k) == method, area, f"{method}: {k[0]} {k[1]} is annotated in proto/ but kong.yml routes it to {from_kong.get(k)}")
    for k, name in sorted(from_kong.items()):
        c.ok(k in protos, area, f"kong.yml route {name} ({k[0]} {k[1]}) has no google.api.http annotation in proto/")

    # kong.yml <-> Ingresses
    ingresses = [i for i in ov.kind("Ingress") if i.get("spec", {}).get("ingressClassName") == "kong"]
    seen = set()
    for ing in ingresses:
        name = ing["metadata"]["name"]
        ns = ing["metadata"].get("namespace", "")
        ann = ing["metadata"].get("annotations") or {}
        rules = ing["spec"].get("rules") or []
        paths = [p for rule in rules for p in (rule.get("http") or {}).get("paths", [])]
        if not c.ok(len(paths) == 1, area, f"Ingress {name}: one path per Ingress (one API route each), found {len(paths)}"):
            continue
        p = paths[0]
        raw = p.get("path", "")
        c.ok(raw.startswith("/~") and p.get("pathType") == "ImplementationSpecific", area,
             f"Ingress {name}: path {raw!r} must be a Kong regex path (/~..., pathType ImplementationSpecific)")
        methods = frozenset(split_csv(ann.get("konghq.com/methods")))
        match = kong_routes.get((methods, raw[1:]))
        if not c.ok(match is not None, area,
                    f"Ingress {name}: {sorted(methods)} {raw} matches no route of kong.yml (methods and path must equal one route's)"):
            continue
        route, svc = match["route"], match["service"]
        seen.add((methods, raw[1:]))
        c.ok(ann.get("expense-tracker.io/grpc-method", route["name"]) == route["name"], area,
             f"Ingress {name}: annotated method {ann.get('expense-tracker.io/grpc-method')} but kong.yml routes it to {route['name']}")
        c.ok(split_csv(ann.get("konghq.com/protocols")) == route["protocols"], area,
             f"Ingress {name}: protocols {ann.get('konghq.com/protocols')!r}, kong.yml {route['protocols']}")
        c.ok(ann.get("konghq.com/strip-path") == str(bool(route.get("strip_path"))).lower(), area,
             f"Ingress {name}: strip-path {ann.get('konghq.com/strip-path')!r}, kong.yml {route.get('strip_path')}")
        c.ok(ann.get("konghq.com/regex-priority") == str(route.get("regex_priority", 0)), area,
             f"Ingress {name}: regex-priority {ann.get('konghq.com/regex-priority')!r}, kong.yml {route.get('regex_priority')}")
        backend = (p.get("backend") or {}).get("service") or {}
        host = f"{backend.get('name')}.{ns}.svc.cluster.local"
        c.ok(host == svc["host"] and (backend.get("port") or {}).get("number") == svc["port"], area,
             f"Ingress {name}: backend {host}:{(backend.get('port') or {}).get('number')}, kong.yml {svc['host']}:{svc['port']}")
        want = Counter(global_plugins + [plugin_signature(x["name"], x.get("config")) for x in route.get("plugins", [])])
        have = Counter()
        for pname in split_csv(ann.get("konghq.com/plugins")):
            kp = ov.get("KongPlugin", ns, pname)
            if c.ok(kp is not None, area, f"Ingress {name}: plugin {pname} is not a KongPlugin in namespace {ns}"):
                have[plugin_signature(kp["plugin"], kp.get("config"))] += 1
        missing, extra = want - have, have - want
        c.ok(not missing and not extra, area,
             f"Ingress {name}: plugins differ from kong.yml route {route['name']}: "
             f"missing {[s.split(' ', 1)[0] for s in missing]}, unexpected {[s.split(' ', 1)[0] for s in extra]}")
    for k, v in sorted(kong_routes.items(), key=lambda kv: kv[1]["route"]["name"]):
        c.ok(k in seen, area, f"kong.yml route {v['route']['name']} ({sorted(k[0])} {k[1]}) has no Ingress")


def check_services(c: Checks, ov: Overlay, kong: dict) -> None:
    area = "services"
    for svc in kong["services"]:
        name, ns = svc["host"].split(".")[:2]
        s = ov.get("Service", ns, name)
        if not c.ok(s is not None, area, f"kong.yml service {svc['name']} dials {svc['host']}: no Service {ns}/{name}"):
            continue
        ann = s["metadata"].get("annotations") or {}
        c.ok(ann.get("konghq.com/protocol") == svc["protocol"], area,
             f"Service {name}: konghq.com/protocol {ann.get('konghq.com/protocol')!r}, kong.yml {svc['protocol']!r}")
        for field in ("connect_timeout", "read_timeout", "write_timeout"):
            a = "konghq.com/" + field.replace("_", "-")
            if field in svc:
                c.ok(ann.get(a) == str(svc[field]), area, f"Service {name}: {a} {ann.get(a)!r}, kong.yml {svc[field]}")
        want = Counter(plugin_signature(p["name"], p.get("config")) for p in svc.get("plugins", []))
        have = Counter()
        for pname in split_csv(ann.get("konghq.com/plugins")):
            kp = ov.get("KongPlugin", ns, pname)
            if c.ok(kp is not None, area, f"Service {name}: plugin {pname} is not a KongPlugin in namespace {ns}"):
                have[plugin_signature(kp["plugin"], kp.get("config"))] += 1
        c.ok(want == have, area, f"Service {name}: plugins {sorted(have)} differ from kong.yml service plugins {sorted(want)}")
        port = next((p for p in s["spec"].get("ports", []) if p.get("port") == svc["port"]), None)
        if not c.ok(port is not None, area, f"Service {name}: no port {svc['port']} (kong.yml)"):
            continue
        target = port.get("targetPort", port["port"])
        backends = [
            d for d in ov.kind("Deployment")
            if d["metadata"].get("namespace") == ns
            and selects(s["spec"].get("selector"), d["spec"]["template"]["metadata"].get("labels") or {})
        ]
        c.ok(len(backends) == 1, area, f"Service {name}: selects {len(backends)} Deployments, expected 1")
        for d in backends:
            ports = [p for ctr in d["spec"]["template"]["spec"]["containers"] for p in ctr.get("ports", [])]
            c.ok(any(p.get("name") == target or p.get("containerPort") == target for p in ports), area,
                 f"Service {name}: targetPort {target} is not a port of Deployment {d['metadata']['name']}")


def check_consumer(c: Checks, ov: Overlay, kong: dict) -> None:
    area = "consumer"
    consumers = ov.kind("KongConsumer")
    for kc in kong.get("consumers", []):
        found = [x for x in consumers if x.get("username") == kc["username"]]
        if not c.ok(len(found) == 1, area, f"kong.yml consumer {kc['username']}: {len(found)} KongConsumers with that username"):
            continue
        x = found[0]
        c.ok(bool(x.get("credentials")), area, f"KongConsumer {kc['username']}: no credentials")
        c.ok((x["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class") == "kong", area,
             f"KongConsumer {kc['username']}: needs the kubernetes.io/ingress.class: kong annotation")
        for cred in x.get("credentials") or []:
            c.ok(cred in EXTERNAL_SECRETS, area, f"KongConsumer {kc['username']}: credential Secret {cred} is not one k8s/README.md documents")
        ns = x["metadata"].get("namespace", "")
        cfg = ov.get("ConfigMap", ns, "expense-tracker-config")
        issuer = (cfg or {}).get("data", {}).get("JWT_ISSUER")
        for js in kc.get("jwt_secrets", []):
            c.ok(js["key"] == issuer, area,
                 f"kong.yml's jwt credential key {js['key']!r} must be the services' JWT_ISSUER {issuer!r}")
            c.ok(js.get("algorithm") == "RS256", area, f"kong.yml's jwt credential algorithm {js.get('algorithm')!r}, expected RS256")


def check_protos(c: Checks, ov: Overlay, kong: dict, root: Path) -> None:
    area = "protos"
    bundle_dir = root / "gateway/kong/protos"
    files = {p.relative_to(bundle_dir).as_posix(): p.read_text() for p in bundle_dir.rglob("*.proto")}
    maps = [m for m in ov.kind("ConfigMap") if m["metadata"]["name"] == "kong-protos"]
    if not c.ok(len(maps) == 1, area, f"one ConfigMap kong-protos expected, found {len(maps)}"):
        return
    cm = maps[0]
    c.ok(cm["metadata"].get("namespace") == "kong", area, "ConfigMap kong-protos must be in Kong's namespace `kong`")
    values_path = root / "k8s/kong/values-protos.yaml"
    values = yaml.safe_load(values_path.read_text())
    vols = {v["name"]: v for v in values["deployment"]["userDefinedVolumes"]}
    mounts = values["deployment"]["userDefinedVolumeMounts"]
    mounted: dict[str, str] = {}
    for m in mounts:
        vol = vols.get(m["name"], {}).get("configMap", {})
        if vol.get("name") != "kong-protos":
            continue
        for item in vol.get("items", []):
            mounted[m["mountPath"].rstrip("/") + "/" + item["path"]] = (cm.get("data") or {}).get(item["key"])
            rel = item["path"]
            c.ok(files.get(rel) is not None and (cm.get("data") or {}).get(item["key"]) == files.get(rel), area,
                 f"kong-protos[{item['key']}] mounted at {rel} differs from gateway/kong/protos/{rel}")
    c.ok(len(mounted) == len(files), area, f"values-protos.yaml mounts {len(mounted)} files, gateway/kong/protos has {len(files)}")
    for kp in ov.kind("KongPlugin"):
        if kp.get("plugin") == "grpc-gateway":
            proto = (kp.get("config") or {}).get("proto")
            c.ok(mounted.get(proto) is not None, area,
                 f"KongPlugin {kp['metadata']['name']}: {proto} is not a file the Kong pods mount")


def check_topics(c: Checks, ov: Overlay, topics: list[str], overlay: str) -> None:
    area = "topics"
    kafka_topics = {(t.get("spec") or {}).get("topicName") or t["metadata"]["name"]: t for t in ov.kind("KafkaTopic")}
    clusters = {k["metadata"]["name"]: k for k in ov.kind("Kafka")}
    for base in topics:
        for name in (base, base + ".dlq"):
            t = kafka_topics.get(name)
            if not c.ok(t is not None, area, f"no KafkaTopic for {name} (contracts::topics)"):
                continue
            cluster = (t["metadata"].get("labels") or {}).get("strimzi.io/cluster")
            if not c.ok(cluster in clusters, area, f"KafkaTopic {name}: strimzi.io/cluster {cluster!r} is not a Kafka in this overlay"):
                continue
            spec = t.get("spec") or {}
            brokers = sum(
                (p.get("spec") or {}).get("replicas", 0)
                for p in ov.kind("KafkaNodePool")
                if (p["metadata"].get("labels") or {}).get("strimzi.io/cluster") == cluster
                and "broker" in (p.get("spec") or {}).get("roles", [])
            )
            replicas = spec.get("replicas", 1)
            c.ok(1 <= replicas <= brokers, area, f"KafkaTopic {name}: {replicas} replicas but {brokers} brokers")
            min_isr = int((spec.get("config") or {}).get(
                "min.insync.replicas", clusters[cluster]["spec"]["kafka"].get("config", {}).get("min.insync.replicas", 1)))
            c.ok(min_isr <= replicas, area, f"KafkaTopic {name}: min.insync.replicas {min_isr} > replicas {replicas}")
            c.ok(spec.get("partitions", 0) >= 3, area, f"KafkaTopic {name}: {spec.get('partitions')} partitions, the services use 3")
            if overlay == "prod":
                c.ok(replicas == 3, area, f"prod: KafkaTopic {name} must be replicated 3 times, is {replicas}")
            if overlay == "dev":
                c.ok(replicas == 1, area, f"dev: KafkaTopic {name} must have one replica, has {replicas}")
    for name in kafka_topics:
        c.ok(name in topics or name.removesuffix(".dlq") in topics, area, f"KafkaTopic {name} is no topic of contracts::topics")


def check_workloads(c: Checks, ov: Overlay, overlay: str) -> None:
    area = "workloads"
    cnpg_secrets = {f"{cl['metadata']['name']}-app" for cl in ov.kind("Cluster") if cl["apiVersion"].startswith("postgresql.cnpg.io/")}
    for d in ov.kind("Deployment"):
        name, ns = d["metadata"]["name"], d["metadata"].get("namespace", "")
        tpl = d["spec"]["template"]
        pod = tpl["spec"]
        labels = tpl["metadata"].get("labels") or {}
        psc = pod.get("securityContext") or {}
        c.ok(psc.get("runAsNonRoot") is True and (psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", area,
             f"Deployment {name}: pod must set runAsNonRoot and the RuntimeDefault seccomp profile")
        c.ok(pod.get("automountServiceAccountToken") is False, area, f"Deployment {name}: the pod needs no API token (automountServiceAccountToken: false)")
        c.ok(0 < pod.get("terminationGracePeriodSeconds", 30) <= 120, area, f"Deployment {name}: terminationGracePeriodSeconds")
        c.ok("replicas" not in d["spec"], area, f"Deployment {name}: replicas are the HPA's, drop spec.replicas")
        for ctr in pod["containers"]:
            sc = ctr.get("securityContext") or {}
            where = f"Deployment {name} container {ctr['name']}"
            c.ok(sc.get("allowPrivilegeEscalation") is False, area, f"{where}: allowPrivilegeEscalation must be false")
            c.ok(sc.get("readOnlyRootFilesystem") is True, area, f"{where}: readOnlyRootFilesystem must be true")
            c.ok(sc.get("privileged", False) is False, area, f"{where}: must not be privileged")
            c.ok("ALL" in ((sc.get("capabilities") or {}).get("drop") or []), area, f"{where}: must drop ALL capabilities")
            res = ctr.get("resources") or {}
            c.ok(all(k in (res.get(w) or {}) for w in ("requests", "limits") for k in ("cpu", "memory")), area,
                 f"{where}: cpu and memory requests and limits")
            ports = {p["containerPort"] for p in ctr.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                grpc = (ctr.get(probe) or {}).get("grpc")
                c.ok(grpc is not None and grpc.get("port") in ports, area, f"{where}: {probe} must be a gRPC probe on the container's port")
            c.ok(((ctr.get("lifecycle") or {}).get("preStop")) is not None, area, f"{where}: preStop (drain before SIGTERM)")
            refs = [e["valueFrom"]["secretKeyRef"] for e in ctr.get("env", []) if (e.get("valueFrom") or {}).get("secretKeyRef")]
            for ref in refs:
                c.ok(ref["name"] in cnpg_secrets or ref["name"] in EXTERNAL_SECRETS, area,
                     f"{where}: Secret {ref['name']} is neither a CloudNativePG app secret of this overlay nor documented")
            for src in ctr.get("envFrom", []):
                if "configMapRef" in src:
                    c.ok(ov.get("ConfigMap", ns, src["configMapRef"]["name"]) is not None, area,
                         f"{where}: ConfigMap {src['configMapRef']['name']} is not in the overlay")
        for vol in pod.get("volumes", []):
            if "secret" in vol:
                c.ok(vol["secret"]["secretName"] in EXTERNAL_SECRETS, area, f"Deployment {name}: Secret {vol['secret']['secretName']} is not documented")
        hpas = [h for h in ov.kind("HorizontalPodAutoscaler")
                if h["metadata"].get("namespace") == ns and h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
                and h["spec"]["scaleTargetRef"].get("name") == name]
        if c.ok(len(hpas) == 1, area, f"Deployment {name}: {len(hpas)} HorizontalPodAutoscalers, expected 1"):
            h = hpas[0]["spec"]
            c.ok(1 <= h.get("minReplicas", 1) <= h["maxReplicas"], area, f"HPA {name}: minReplicas <= maxReplicas")
            if overlay == "dev":
                c.ok(h.get("minReplicas", 1) == 1, area, f"dev: HPA {name} must start at one replica, minReplicas {h.get('minReplicas')}")
            if overlay == "prod":
                c.ok(h.get("minReplicas", 1) >= 2, area, f"prod: HPA {name} minReplicas {h.get('minReplicas')} < 2")
        pdbs = [p for p in ov.kind("PodDisruptionBudget") if p["metadata"].get("namespace") == ns and selects(p["spec"].get("selector"), labels)]
        c.ok(len(pdbs) == 1, area, f"Deployment {name}: {len(pdbs)} PodDisruptionBudgets select it, expected 1")
        types = set()
        for np in ov.kind("NetworkPolicy"):
            if np["metadata"].get("namespace") == ns and selects(np["spec"].get("podSelector"), labels):
                types.update(np["spec"].get("policyTypes") or ["Ingress"])
        c.ok(types >= {"Ingress", "Egress"}, area, f"Deployment {name}: NetworkPolicies must restrict ingress and egress, have {sorted(types)}")
    if overlay == "prod":
        for cl in ov.kind("Cluster"):
            c.ok(cl["spec"].get("instances", 1) >= 2, area, f"prod: PostgreSQL cluster {cl['metadata']['name']} needs a standby")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--overlay", required=True, help="dev, prod or another name (no overlay-specific rules)")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    ap.add_argument("rendered", type=Path)
    args = ap.parse_args()

    ov = Overlay(load_yaml_all(args.rendered))
    kong = yaml.safe_load((args.root / "gateway/kong/kong.yml").read_text())
    protos = proto_routes(args.root / "proto")
    topics = contract_topics(args.root / "src/lib.rs")
    c = Checks()
    c.ok(len(protos) > 0, "routes", "no google.api.http annotations found in proto/")
    c.ok(len(topics) > 0, "topics", "no topics found in src/lib.rs")
    check_routes(c, ov, kong, protos)
    check_services(c, ov, kong)
    check_consumer(c, ov, kong)
    check_protos(c, ov, kong, args.root)
    check_topics(c, ov, topics, args.overlay)
    check_workloads(c, ov, args.overlay)
    for f in c.failed:
        print(f"FAIL {args.overlay}: {f}")
    print(
        f"Consistency: {args.overlay}: {c.passed} checks passed, {len(c.failed)} failed "
        f"({len(protos)} API routes, {len(ov.kind('Ingress'))} Ingresses, {len(ov.kind('KongPlugin'))} KongPlugins, "
        f"{len(ov.kind('KafkaTopic'))} KafkaTopics, {len(ov.kind('Deployment'))} Deployments)"
    )
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
