#!/usr/bin/env python3
"""Consistency checks over rendered Kubernetes manifests.

Schema validation proves each object is well-formed on its own; it cannot see
that `SINK_URL=sink-svc/sink.php` names a Service that does not exist, that a
Service selects no pod, or that a probe asks a binary for a path it does not
serve. Those mistakes only show up on a live cluster, as pods that never get
ready or requests that go nowhere. This script finds them in the output of
`kubectl kustomize`, one rendered entry point at a time:

  * every service URL in an env var (…_URL, …_URI, DB_HOST,
    CONTROLLER_UPSTREAM) names a Service that exists with that port, or a
    port of the same pod for localhost; browser-facing URLs (SERVER_URI with
    GRAPHQL_MODE=direct, CONTROLLER_URL) name a NodePort or an Ingress host
    instead; the proxy switches (GRAPHQL_MODE, CONTROLLER_MODE) are set
    explicitly to a value the binary knows;
  * every pod template says whether it is scraped (prometheus.io/scrape);
    a scraped one names a port and path where one of our binaries serves
    /metrics; every PodMonitor (components/monitoring) has only fields the
    Prometheus Operator's CRD knows, selects pods, and names their ports and
    a path they serve; with PodMonitors present, every /metrics port of the
    system is covered;
  * a PersistentVolumeClaim mounted as MySQL's data directory uses a
    subPath (ext4's lost+found at the volume root breaks initialisation);
  * every Service selector matches some pod template, and every targetPort
    resolves to a containerPort of each selected pod;
  * every containerPort of our images is the port the binary listens on
    (PORT in the env, else the image's documented default);
  * every probe path exists on the binary: routes are read from the crates'
    source (`.route("…")`) when it is there, else from ROUTES below; with
    --binaries, each binary is also started on 127.0.0.1 and the paths are
    requested for real;
  * no NodePort is used twice, and all are in the NodePort range;
  * every container is hardened (non-root, no privilege escalation,
    read-only root file system, all capabilities dropped, seccomp
    RuntimeDefault), has requests and limits, liveness and readiness probes,
    a pinned image tag, and a termination grace period longer than its drain;
  * references resolve: ConfigMap/Secret keys, PVCs, HPA targets, PDB and
    NetworkPolicy selectors, NetworkPolicy named ports, Ingress backends;
  * the seeds' names, labels, replica counts and values are kept.

Usage:
  k8s_consistency.py [--repo DIR] [--binaries DIR] [--podman NAME] NAME=RENDERED.yaml ...
  k8s_consistency.py --self-test RENDERED-ALL-COMPONENTS.yaml

Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

# --------------------------------------------------------------------------
# What the binaries are, kept next to the code that checks against them.
# --------------------------------------------------------------------------

#: Images built from this workspace: image short name -> default PORT.
#: (service-kit's ServiceArgs defaults PORT to 8080; portal-controller
#: overrides it with the seed's 8081.)
OUR_IMAGES: dict[str, int] = {
    "sender": 8080,
    "relay": 8080,
    "sink": 8080,
    "portal-model": 8080,
    "portal-controller": 8081,
    "todo-backend": 8080,
    "todo-frontend": 8080,
    "generator": 8080,
    "echo": 8000,
    "appcoup": 8000,
    "vote": 8080,
    "worker": 8080,
    "result": 8080,
}

#: Third-party images and the port they listen on.
OTHER_IMAGES: dict[str, int] = {"mongo": 27017, "mysql": 3306, "redis": 6379, "postgres": 5432}

#: Routes every service gets from service-kit's Kit::wrap.
KIT_ROUTES = {"/healthz", "/readyz", "/metrics"}

#: The routes each binary serves, beyond KIT_ROUTES. Used when a crate's
#: source is not available; when it is, the source is read instead and every
#: route listed here must still be in it (a route the table promises but the
#: code no longer serves is a failure, so the table cannot silently rot).
ROUTES: dict[str, set[str]] = {
    "sender": set(),
    "relay": {"/relay.php", "/"},
    "sink": {"/sink.php", "/", "/messages"},
    "portal-model": {"/", "/api/tools", "/api/tools/{id}"},
    "portal-controller": {"/{name}"},
    "todo-backend": {"/graphql", "/actuator/health"},
    "todo-frontend": set(),
    "generator": {"/data"},
    "echo": {"/"},
    "appcoup": set(),
    "vote": {"/"},
    "worker": set(),
    "result": {"/", "/result.js", "/events", "/api/results"},
}

#: Env vars whose value is a URL the browser uses (not resolved in-cluster).
#: SERVER_URI is one only when the same container sets GRAPHQL_MODE=direct
#: (see MODE_VARS); in proxy mode the frontend calls it in-cluster.
BROWSER_URL_VARS = {"SERVER_URI", "CONTROLLER_URL"}

#: Env vars without the _URL/_URI suffix that still hold a service URL.
EXTRA_URL_VARS = {"CONTROLLER_UPSTREAM"}

#: The proxy/direct switches: image -> (env var, allowed values, the URL var
#: that is browser-facing only in "direct" mode). The manifests must set the
#: switch explicitly, so which design runs is visible in the YAML.
MODE_VARS: dict[str, tuple[str, set[str], str]] = {
    "todo-frontend": ("GRAPHQL_MODE", {"proxy", "direct"}, "SERVER_URI"),
    "portal-model": ("CONTROLLER_MODE", {"proxy", "direct"}, "CONTROLLER_URL"),
}

#: The PodMonitor fields (monitoring.coreos.com/v1) the manifests may use: a
#: subset of the Prometheus Operator's CRD, which kubernetes-validate does
#: not bundle. Anything else is reported, as a strict schema would.
PODMONITOR_SPEC_FIELDS = {
    "selector",
    "namespaceSelector",
    "podMetricsEndpoints",
    "jobLabel",
    "podTargetLabels",
    "sampleLimit",
    "targetLimit",
}
PODMONITOR_ENDPOINT_FIELDS = {
    "port",
    "portNumber",
    "path",
    "interval",
    "scrapeTimeout",
    "scheme",
    "honorLabels",
    "relabelings",
    "metricRelabelings",
}

#: Env vars holding the port the BROWSER uses to reach another container of
#: the same pod, on the page's host: it must be the nodePort (or, under
#: podman, the hostPort) that leads to that container's port.
BROWSER_PORT_VARS = {"CONTROLLER_PORT": "portal-controller"}

#: Env vars holding a bare host[:port], and the port implied when absent.
HOST_VARS = {"DB_HOST": 3306, "REDIS_HOST": 6379, "POSTGRES_HOST": 5432}

#: Default ports per URL scheme.
SCHEME_PORTS = {"http": 80, "https": 443, "mongodb": 27017, "mysql": 3306}

#: Image pull secrets created out of band (components/regcred).
EXTERNAL_SECRETS = {"regcred"}

#: Labels every workload, pod template and Service must carry.
RECOMMENDED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by")

#: What the seeds fix: object -> expected fields (checked when the object is
#: in the render).
SEED_SERVICES = {
    "relay-svc": {"selector": {"app": "3-level-demo", "role": "relay"}, "port": 80},
    "sink-svc": {"selector": {"app": "3-level-demo", "role": "sink"}, "port": 80},
    "portal-service": {"selector": {"app": "tool-portal"}, "nodePorts": {30000, 30100}},
    "mysql": {"selector": {"app": "to-do-app", "tier": "mysql"}, "port": 3306, "headless": True},
    "to-do-app-backend": {"selector": {"app": "to-do-app", "tier": "backend"}, "port": 80},
    "to-do-app-frontend": {"selector": {"app": "to-do-app", "tier": "frontend"}, "port": 80},
    # The classic voting app's names and ports (course notes).
    "vote": {"selector": {"app": "voting-app", "tier": "vote"}, "nodePorts": {31000}},
    "result": {"selector": {"app": "voting-app", "tier": "result"}, "nodePorts": {31001}},
    "redis": {"selector": {"app": "voting-app", "tier": "redis"}, "port": 6379},
    "db": {"selector": {"app": "voting-app", "tier": "db"}, "port": 5432},
}
SEED_REPLICAS = {
    "senders": 3,
    "relays": 2,
    "sinks": 3,
    "tool-portal-pods": 1,
    "mysql": 1,
    "to-do-app-backend": 2,
    "to-do-app-frontend": 2,
}
SEED_ENV = {
    ("senders", "RELAY_URL"): "relay-svc/relay.php",
    ("relays", "SINK_URL"): "sink-svc/sink.php",
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)

    def ok(self, category: str) -> None:
        self.passed[category] = self.passed.get(category, 0) + 1

    def fail(self, where: str, message: str) -> None:
        self.failures.append(f"{where}: {message}")

    def check(self, category: str, cond: bool, where: str, message: str) -> bool:
        if cond:
            self.ok(category)
        else:
            self.fail(where, message)
        return cond


# --------------------------------------------------------------------------
# The rendered objects
# --------------------------------------------------------------------------


@dataclass
class PodTemplate:
    owner: str  # "Deployment/relays"
    name: str
    labels: dict
    spec: dict
    workload: dict

    def containers(self, init: bool = True) -> list[dict]:
        out = list(self.spec.get("containers") or [])
        if init:
            out += list(self.spec.get("initContainers") or [])
        return out


class Rendered:
    def __init__(self, docs: list[dict]):
        self.docs = [d for d in docs if isinstance(d, dict)]
        self.by_kind: dict[str, dict[str, dict]] = {}
        for d in self.docs:
            self.by_kind.setdefault(d.get("kind", "?"), {})[d["metadata"]["name"]] = d
        self.pods: list[PodTemplate] = []
        for d in self.docs:
            kind = d.get("kind")
            if kind in WORKLOAD_KINDS:
                tmpl = d["spec"]["template"]
                self.pods.append(
                    PodTemplate(
                        f"{kind}/{d['metadata']['name']}",
                        d["metadata"]["name"],
                        tmpl.get("metadata", {}).get("labels") or {},
                        tmpl["spec"],
                        d,
                    )
                )
            elif kind == "Pod":
                self.pods.append(
                    PodTemplate(
                        f"Pod/{d['metadata']['name']}",
                        d["metadata"]["name"],
                        d["metadata"].get("labels") or {},
                        d["spec"],
                        d,
                    )
                )

    def get(self, kind: str, name: str) -> dict | None:
        return self.by_kind.get(kind, {}).get(name)

    def pods_matching(self, selector: dict) -> list[PodTemplate]:
        return [p for p in self.pods if selector_matches(selector, p.labels)]


def selector_matches(selector: dict, labels: dict) -> bool:
    """matchLabels/matchExpressions (or a plain Service selector map)."""
    if not selector:
        return True
    if "matchLabels" in selector or "matchExpressions" in selector:
        for k, v in (selector.get("matchLabels") or {}).items():
            if labels.get(k) != v:
                return False
        for expr in selector.get("matchExpressions") or []:
            key, op, values = expr["key"], expr["operator"], expr.get("values") or []
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and labels.get(key) in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True
    return all(labels.get(k) == v for k, v in selector.items())


def image_short_name(image: str) -> tuple[str, str | None]:
    """`registry.example.com/x/relay:0.1.0` -> ("relay", "0.1.0")."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    return name, (tag or None)


def parse_duration(raw: str) -> float | None:
    """humantime-style `10s`, `500ms`, `1m` (the services' SHUTDOWN_GRACE)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", raw or "")
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def resolve_env(r: Rendered, pod: PodTemplate, c: dict, rep: Report) -> dict[str, str | None]:
    """Env values as the container will see them; checks every reference."""
    out: dict[str, str | None] = {}
    where = f"{pod.owner}/{c['name']}"
    for e in c.get("env") or []:
        name = e["name"]
        if "value" in e:
            out[name] = str(e["value"])
            continue
        src = e.get("valueFrom") or {}
        if "configMapKeyRef" in src or "secretKeyRef" in src:
            kind, ref = (
                ("ConfigMap", src["configMapKeyRef"]) if "configMapKeyRef" in src else ("Secret", src["secretKeyRef"])
            )
            obj = r.get(kind, ref["name"])
            data = {}
            if obj is not None:
                data = dict(obj.get("data") or {})
                data.update(obj.get("stringData") or {})
            found = obj is not None and ref["key"] in data
            if rep.check(
                "references",
                found or ref.get("optional", False),
                where,
                f"env {name}: {kind} {ref['name']!r} key {ref['key']!r} is not in the render",
            ):
                out[name] = str(data.get(ref["key"])) if kind == "ConfigMap" and found else None
        elif "fieldRef" in src:
            out[name] = None
            if name == "POD_IP":
                rep.check(
                    "downward-api",
                    src["fieldRef"].get("fieldPath") == "status.podIP",
                    where,
                    "POD_IP must come from fieldRef status.podIP",
                )
        else:
            out[name] = None
    return out


# --------------------------------------------------------------------------
# Routes: from the source when it is there
# --------------------------------------------------------------------------

ROUTE_RE = re.compile(r'\.route\(\s*"([^"]+)"')


def routes_from_source(repo: Path | None, image: str) -> tuple[set[str], str]:
    if repo is not None:
        src = repo / image / "src"
        if src.is_dir():
            paths: set[str] = set()
            uses_kit = False
            for f in sorted(src.rglob("*.rs")):
                text = f.read_text(encoding="utf-8", errors="replace")
                paths.update(ROUTE_RE.findall(text))
                uses_kit = uses_kit or "service_kit" in text
            if uses_kit:
                kit_src = repo / "service-kit" / "src"
                kit_paths: set[str] = set()
                for f in sorted(kit_src.rglob("*.rs")):
                    kit_paths.update(ROUTE_RE.findall(f.read_text(encoding="utf-8", errors="replace")))
                paths |= kit_paths if kit_paths else KIT_ROUTES
            if paths:
                return paths, f"{image}/src"
    return ROUTES[image] | KIT_ROUTES, "ROUTES table"


PORT_OVERRIDE_RE = re.compile(r'mut_arg\(\s*"port".*?default_value\(\s*"(\d+)"', re.S)
KIT_PORT_RE = re.compile(r'env\s*=\s*"PORT"\s*,\s*default_value_t\s*=\s*(\d+)')


def port_default_from_source(repo: Path | None, image: str) -> tuple[int | None, str]:
    """The port a binary listens on without PORT, read from its source:
    an override of service-kit's `port` argument in the crate, else
    service-kit's own default."""
    if repo is None or not (repo / image / "src").is_dir():
        return None, "OUR_IMAGES table"
    for f in sorted((repo / image / "src").rglob("*.rs")):
        text = f.read_text(encoding="utf-8", errors="replace")
        # An override of service-kit's argument, or (appcoup) a PORT argument
        # of the crate's own.
        m = PORT_OVERRIDE_RE.search(text) or KIT_PORT_RE.search(text)
        if m:
            return int(m.group(1)), f"{image}/src"
    kit = repo / "service-kit" / "src" / "config.rs"
    if kit.is_file():
        m = KIT_PORT_RE.search(kit.read_text(encoding="utf-8", errors="replace"))
        if m:
            return int(m.group(1)), "service-kit/src/config.rs"
    return None, "OUR_IMAGES table"


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def check_services(r: Rendered, rep: Report) -> None:
    node_ports: dict[int, str] = {}
    for svc in r.by_kind.get("Service", {}).values():
        name = svc["metadata"]["name"]
        spec = svc["spec"]
        where = f"Service/{name}"
        selector = spec.get("selector") or {}
        pods = r.pods_matching(selector) if selector else []
        if not rep.check(
            "selectors", bool(selector) and bool(pods), where, f"selector {selector} matches no pod template"
        ):
            continue
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port["port"])
            for pod in pods:
                found = any(
                    (cp.get("name") == target) if isinstance(target, str) else (cp["containerPort"] == target)
                    for c in pod.containers(init=False)
                    for cp in c.get("ports") or []
                )
                rep.check(
                    "target-ports",
                    found,
                    where,
                    f"port {port.get('name', port['port'])}: targetPort {target!r} is no containerPort of {pod.owner}",
                )
            if "nodePort" in port:
                np_ = port["nodePort"]
                rep.check("node-ports", 30000 <= np_ <= 32767, where, f"nodePort {np_} outside 30000-32767")
                if rep.check(
                    "node-ports", np_ not in node_ports, where, f"nodePort {np_} already used by {node_ports.get(np_)}"
                ):
                    node_ports[np_] = f"{where}:{port.get('name', port['port'])}"
        labels = svc["metadata"].get("labels") or {}
        missing = [k for k in RECOMMENDED_LABELS if k not in labels]
        rep.check("labels", not missing, where, f"missing labels {missing}")


def check_url(
    r: Rendered, rep: Report, pod: PodTemplate, where: str, var: str, value: str, browser: bool = False
) -> None:
    if var in HOST_VARS:
        host, _, port_s = value.partition(":")
        scheme, port = None, int(port_s) if port_s else HOST_VARS[var]
    else:
        raw = value if "://" in value else f"http://{value}"
        try:
            parts = urlsplit(raw)
            host, scheme = parts.hostname, parts.scheme
            port = parts.port or SCHEME_PORTS.get(scheme)
        except ValueError as err:
            rep.fail(where, f"env {var}={value!r} is not a URL: {err}")
            return
    if not rep.check("service-urls", bool(host) and port is not None, where, f"env {var}={value!r}: no host or port"):
        return
    if browser:
        # The browser is outside the cluster: a NodePort on any node, or an
        # Ingress host.
        node_ports = {
            p.get("nodePort") for s in r.by_kind.get("Service", {}).values() for p in s["spec"].get("ports") or []
        }
        hosts = {
            rule.get("host") for i in r.by_kind.get("Ingress", {}).values() for rule in i["spec"].get("rules") or []
        }
        ok = (host in hosts and port in (80, 443)) or port in node_ports
        rep.check(
            "service-urls",
            ok,
            where,
            f"env {var}={value!r} (browser-facing): port {port} is no NodePort and {host!r} no Ingress host",
        )
        return
    if host in ("localhost", "127.0.0.1", "::1"):
        ports = {cp["containerPort"] for c in pod.containers(init=False) for cp in c.get("ports") or []}
        rep.check(
            "service-urls", port in ports, where, f"env {var}={value!r}: no container of this pod declares port {port}"
        )
        return
    svc_name = host.split(".", 1)[0]
    if "." in host and not re.search(r"\.svc(\.cluster\.local)?$", host) and host.count(".") > 1:
        rep.fail(where, f"env {var}={value!r}: {host!r} is not a cluster Service name")
        return
    svc = r.get("Service", svc_name)
    if not rep.check(
        "service-urls", svc is not None, where, f"env {var}={value!r}: no Service {svc_name!r} in the render"
    ):
        return
    ports = {p["port"] for p in svc["spec"].get("ports") or []}
    rep.check(
        "service-urls",
        port in ports,
        where,
        f"env {var}={value!r}: Service {svc_name} has ports {sorted(ports)}, not {port}",
    )


def effective(container_sc: dict, pod_sc: dict, key: str):
    """A securityContext setting as it applies: the container's wins over the pod's."""
    return container_sc.get(key, pod_sc.get(key))


def check_browser_port(
    r: Rendered, rep: Report, pod: PodTemplate, where: str, var: str, value: str, image: str
) -> None:
    """`CONTROLLER_PORT=30100`: the port on the page's host that reaches `image`."""
    target_ports = {
        (cp.get("name"), cp["containerPort"])
        for c in pod.containers(init=False)
        if image_short_name(c.get("image", ""))[0] == image
        for cp in c.get("ports") or []
    }
    if not rep.check("service-urls", bool(target_ports), where, f"env {var}: no {image} container in this pod"):
        return
    reach: set[int] = set()
    for svc in r.by_kind.get("Service", {}).values():
        sel = svc["spec"].get("selector")
        if not sel or not selector_matches(sel, pod.labels):
            continue
        for p in svc["spec"].get("ports") or []:
            t = p.get("targetPort", p["port"])
            if "nodePort" in p and any(t == n or t == num for n, num in target_ports):
                reach.add(p["nodePort"])
    reach |= {
        cp["hostPort"]
        for c in pod.containers(init=False)
        if image_short_name(c.get("image", ""))[0] == image
        for cp in c.get("ports") or []
        if "hostPort" in cp
    }
    rep.check(
        "service-urls",
        value.isdigit() and int(value) in reach,
        where,
        f"env {var}={value!r}: the {image} container is reachable from outside on {sorted(reach) or 'no port'}",
    )


def check_pods(r: Rendered, rep: Report, repo: Path | None, probe_targets: list, podman: bool = False) -> None:
    for pod in r.pods:
        spec, wl = pod.spec, pod.workload
        # Workload selector and labels.
        if wl.get("kind") != "Pod":
            sel = wl["spec"].get("selector") or {}
            rep.check(
                "selectors",
                selector_matches(sel, pod.labels),
                pod.owner,
                "selector does not match its own pod template",
            )
        missing = [k for k in RECOMMENDED_LABELS if k not in pod.labels]
        rep.check("labels", not missing, pod.owner, f"pod template misses labels {missing}")
        # Pod-level hardening.
        psc = spec.get("securityContext") or {}
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            rep.check("hardening", not spec.get(flag), pod.owner, f"{flag} is set")
        rep.check(
            "hardening",
            spec.get("automountServiceAccountToken") is False,
            pod.owner,
            "automountServiceAccountToken should be false (no pod here talks to the API server)",
        )
        for ps in spec.get("imagePullSecrets") or []:
            rep.check(
                "references",
                ps["name"] in EXTERNAL_SECRETS or r.get("Secret", ps["name"]) is not None,
                pod.owner,
                f"imagePullSecret {ps['name']!r} unknown",
            )
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for v in volumes.values():
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                rep.check(
                    "references",
                    r.get("PersistentVolumeClaim", claim) is not None,
                    pod.owner,
                    f"volume {v['name']}: PVC {claim!r} not in the render",
                )
            if "hostPath" in v:
                rep.notes.append(
                    f"{pod.owner}: hostPath volume {v['name']} ({v['hostPath']['path']}): "
                    "opt-in seed behaviour, not allowed under restricted Pod Security"
                )
        grace = spec.get("terminationGracePeriodSeconds", 30)
        for c in pod.containers():
            where = f"{pod.owner}/{c['name']}"
            csc = c.get("securityContext") or {}
            rep.check("hardening", effective(csc, psc, "runAsNonRoot") is True, where, "runAsNonRoot is not true")
            rep.check(
                "hardening",
                effective(csc, psc, "runAsUser") not in (None, 0),
                where,
                "runAsUser must be a non-zero UID",
            )
            rep.check(
                "hardening",
                csc.get("allowPrivilegeEscalation") is False,
                where,
                "allowPrivilegeEscalation is not false",
            )
            rep.check(
                "hardening", csc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem is not true"
            )
            rep.check("hardening", not csc.get("privileged"), where, "privileged")
            caps = csc.get("capabilities") or {}
            rep.check(
                "hardening",
                "ALL" in (caps.get("drop") or []) and not caps.get("add"),
                where,
                "capabilities must drop ALL and add none",
            )
            seccomp = (effective(csc, psc, "seccompProfile") or {}).get("type")
            rep.check("hardening", seccomp in ("RuntimeDefault", "Localhost"), where, f"seccompProfile is {seccomp!r}")
            for m in c.get("volumeMounts") or []:
                rep.check("references", m["name"] in volumes, where, f"volumeMount {m['name']!r} has no volume")
            # Image: pinned, registry applied.
            image = c.get("image", "")
            short, tag = image_short_name(image)
            rep.check(
                "images",
                tag is not None and tag != "latest" or "@" in image,
                where,
                f"image {image!r} has no pinned tag",
            )
            rep.check("images", "/" in image, where, f"image {image!r} was not rewritten by k8s/images (no registry)")
            # Resources.
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            rep.check(
                "resources",
                "cpu" in req and "memory" in req and "memory" in lim,
                where,
                "needs cpu and memory requests and a memory limit",
            )
            # Probes.
            if c in (spec.get("initContainers") or []):
                continue
            if podman:
                # podman runs a livenessProbe as a command inside the
                # container (curl/nc), which the runtime images lack.
                rep.check(
                    "probes",
                    "livenessProbe" not in c and "readinessProbe" in c,
                    where,
                    "for podman: readiness probe kept, liveness probe removed",
                )
            else:
                rep.check(
                    "probes",
                    "livenessProbe" in c and "readinessProbe" in c,
                    where,
                    "needs liveness and readiness probes",
                )
            env = resolve_env(r, pod, c, rep)
            browser_vars = set(BROWSER_URL_VARS)
            if short in MODE_VARS:
                mode_var, allowed, url_var = MODE_VARS[short]
                mode = env.get(mode_var)
                rep.check(
                    "proxy-modes",
                    mode in allowed,
                    where,
                    f"env {mode_var}={mode!r}: set it explicitly to one of {sorted(allowed)}",
                )
                if mode != "direct":
                    # Proxy mode: this service calls the URL itself, in-cluster.
                    browser_vars.discard(url_var)
            for var, value in env.items():
                if value is None:
                    continue
                if var.endswith(("_URL", "_URI")) or var in HOST_VARS or var in EXTRA_URL_VARS:
                    # RELAY_URL / SINK_URL may list several URLs, comma-separated
                    # (service-kit's svc_url::Upstream): each must resolve.
                    # (A mongodb:// URL lists replica-set hosts with commas: one URL.)
                    single = var in BROWSER_URL_VARS or var in HOST_VARS or var in EXTRA_URL_VARS
                    single = single or value.startswith("mongodb://")
                    parts = [value] if single else value.split(",")
                    for part in parts:
                        check_url(r, rep, pod, where, var, part.strip(), browser=var in browser_vars)
                if var in BROWSER_PORT_VARS:
                    check_browser_port(r, rep, pod, where, var, value, BROWSER_PORT_VARS[var])
            ports = c.get("ports") or []
            if short in OUR_IMAGES:
                src_port, port_origin = port_default_from_source(repo, short)
                if src_port is not None:
                    rep.check(
                        "port-defaults",
                        src_port == OUR_IMAGES[short],
                        f"k8s_consistency.OUR_IMAGES[{short!r}]",
                        f"says {OUR_IMAGES[short]}, but {port_origin} defaults PORT to {src_port}",
                    )
                listen = int(env["PORT"]) if env.get("PORT") else OUR_IMAGES[short]
                declared = {p["containerPort"] for p in ports}
                rep.check(
                    "container-ports",
                    declared == {listen},
                    where,
                    f"{short} listens on {listen} (PORT or its default) but declares containerPorts {sorted(declared)}",
                )
                if podman:
                    # podman 4.x refuses fieldRef status.podIP outright.
                    rep.check(
                        "downward-api", "POD_IP" not in env, where, "for podman: POD_IP (status.podIP) must be dropped"
                    )
                else:
                    rep.check("downward-api", "POD_IP" in env, where, "POD_IP (downward API) is not set")
                drain = parse_duration(env.get("SHUTDOWN_GRACE") or "10s") or 10
                pre = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
                rep.check(
                    "shutdown",
                    grace > drain + pre,
                    where,
                    f"terminationGracePeriodSeconds {grace} must exceed preStop {pre}s + SHUTDOWN_GRACE {drain:g}s",
                )
                routes, origin = routes_from_source(repo, short)
                if origin != "ROUTES table":
                    table = ROUTES[short] | KIT_ROUTES
                    rep.check(
                        "routes-table",
                        table <= routes,
                        f"k8s_consistency.ROUTES[{short!r}]",
                        f"lists {sorted(table - routes)}, which {origin} no longer serves",
                    )
                for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                    probe = c.get(kind) or {}
                    http = probe.get("httpGet")
                    if not http:
                        if probe:
                            rep.fail(where, f"{kind} of our service should be an httpGet on its endpoints")
                        continue
                    rep.check(
                        "probe-paths",
                        http["path"] in routes,
                        where,
                        f"{kind} path {http['path']!r} is not served by {short} (routes from {origin}: {sorted(routes)})",
                    )
                    port = http["port"]
                    port_ok = any(
                        (p.get("name") == port) if isinstance(port, str) else p["containerPort"] == port for p in ports
                    )
                    rep.check("probe-paths", port_ok, where, f"{kind} port {port!r} is not a containerPort")
                    probe_targets.append((short, http["path"], kind))
            elif short in OTHER_IMAGES:
                declared = {p["containerPort"] for p in ports}
                rep.check(
                    "container-ports",
                    OTHER_IMAGES[short] in declared,
                    where,
                    f"{short} listens on {OTHER_IMAGES[short]} but declares {sorted(declared)}",
                )
            else:
                rep.notes.append(f"{where}: image {short!r} is not in OUR_IMAGES or OTHER_IMAGES; port not checked")


def pod_annotations(pod: PodTemplate) -> dict:
    wl = pod.workload
    meta = wl["metadata"] if wl.get("kind") == "Pod" else wl["spec"]["template"].get("metadata") or {}
    return meta.get("annotations") or {}


def metrics_ports(pod: PodTemplate) -> list[tuple[str | None, int, str]]:
    """(port name, number, image) of every port where one of our binaries
    serves /metrics (service-kit's Kit gives every service one)."""
    return [
        (cp.get("name"), cp["containerPort"], image_short_name(c.get("image", ""))[0])
        for c in pod.containers(init=False)
        if image_short_name(c.get("image", ""))[0] in OUR_IMAGES
        for cp in c.get("ports") or []
    ]


def check_metrics(r: Rendered, rep: Report) -> None:
    """Scrape annotations on every pod template, and the PodMonitors."""
    for pod in r.pods:
        where = pod.owner
        ann = pod_annotations(pod)
        scrape = ann.get("prometheus.io/scrape")
        ports = metrics_ports(pod)
        want = "true" if ports else "false"
        if not rep.check(
            "metrics",
            scrape == want,
            where,
            f"annotation prometheus.io/scrape is {scrape!r}, want {want!r}"
            + (" (our binaries serve /metrics here)" if ports else " (nothing here serves /metrics)"),
        ):
            continue
        if ports:
            port = ann.get("prometheus.io/port", "")
            rep.check(
                "metrics",
                port.isdigit() and int(port) in {n for _, n, _ in ports},
                where,
                f"prometheus.io/port {port!r} is not a port where our binaries serve /metrics ({sorted({n for _, n, _ in ports})})",
            )
            path = ann.get("prometheus.io/path", "/metrics")
            rep.check("metrics", path in KIT_ROUTES, where, f"prometheus.io/path {path!r} is not served")
    monitors = r.by_kind.get("PodMonitor", {})
    covered: set[tuple[str, str]] = set()
    for name, pm in monitors.items():
        where = f"PodMonitor/{name}"
        rep.check(
            "podmonitors",
            pm.get("apiVersion") == "monitoring.coreos.com/v1",
            where,
            f"apiVersion {pm.get('apiVersion')!r}, want monitoring.coreos.com/v1",
        )
        spec = pm.get("spec") or {}
        unknown = set(spec) - PODMONITOR_SPEC_FIELDS
        rep.check("podmonitors", not unknown, where, f"unknown spec fields {sorted(unknown)}")
        selected = r.pods_matching(spec.get("selector") or {}) if spec.get("selector") else []
        if not rep.check("podmonitors", bool(selected), where, "selector missing or matches no pod template"):
            continue
        endpoints = spec.get("podMetricsEndpoints") or []
        rep.check("podmonitors", bool(endpoints), where, "no podMetricsEndpoints")
        for ep in endpoints:
            unknown = set(ep) - PODMONITOR_ENDPOINT_FIELDS
            rep.check("podmonitors", not unknown, where, f"unknown endpoint fields {sorted(unknown)}")
            port = ep.get("port")
            path = ep.get("path", "/metrics")
            rep.check("podmonitors", path in KIT_ROUTES, where, f"path {path!r} is not served")
            hits = [p for p in selected if any(n == port for n, _, _ in metrics_ports(p))]
            rep.check(
                "podmonitors",
                bool(hits),
                where,
                f"port {port!r} is no named port where a selected pod's binary serves /metrics",
            )
            covered |= {(p.owner, port) for p in hits}
    if monitors:
        for pod in r.pods:
            for port_name, number, image in metrics_ports(pod):
                rep.check(
                    "podmonitors",
                    (pod.owner, port_name) in covered,
                    pod.owner,
                    f"{image}'s /metrics on port {port_name or number} is scraped by no PodMonitor",
                )


def check_volumes(r: Rendered, rep: Report) -> None:
    """MySQL's data directory is a subdirectory of its volume: ext4 puts
    lost+found at a volume's root, and mysqld refuses to initialise a data
    directory that is not empty."""
    for pod in r.pods:
        claims = {
            v["name"] for v in pod.spec.get("volumes") or [] if "persistentVolumeClaim" in v
        }
        for c in pod.containers(init=False):
            if image_short_name(c.get("image", ""))[0] != "mysql":
                continue
            for m in c.get("volumeMounts") or []:
                if m.get("mountPath") == "/var/lib/mysql" and m["name"] in claims:
                    rep.check(
                        "volumes",
                        bool(m.get("subPath")),
                        f"{pod.owner}/{c['name']}",
                        "the data volume is mounted at its root: set subPath (ext4's lost+found breaks mysqld's first start)",
                    )


def check_others(r: Rendered, rep: Report) -> None:
    check_metrics(r, rep)
    check_volumes(r, rep)
    for d in r.docs:
        labels = d["metadata"].get("labels") or {}
        rep.check(
            "labels",
            "app.kubernetes.io/managed-by" in labels,
            f"{d['kind']}/{d['metadata']['name']}",
            "missing label app.kubernetes.io/managed-by",
        )
        if d["kind"] in WORKLOAD_KINDS:
            missing = [k for k in RECOMMENDED_LABELS if k not in labels]
            rep.check("labels", not missing, f"{d['kind']}/{d['metadata']['name']}", f"missing labels {missing}")
    for name, hpa in r.by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = hpa["spec"]["scaleTargetRef"]
        target = r.get(ref["kind"], ref["name"])
        if rep.check(
            "references",
            target is not None,
            f"HorizontalPodAutoscaler/{name}",
            f"target {ref['kind']}/{ref['name']} not in the render",
        ):
            rep.check(
                "references",
                "replicas" not in target["spec"],
                f"HorizontalPodAutoscaler/{name}",
                f"{ref['name']} still sets spec.replicas: every apply would fight the autoscaler",
            )
    for name, pdb in r.by_kind.get("PodDisruptionBudget", {}).items():
        rep.check(
            "selectors",
            bool(r.pods_matching(pdb["spec"]["selector"])),
            f"PodDisruptionBudget/{name}",
            "selector matches no pod template",
        )
    for name, np_ in r.by_kind.get("NetworkPolicy", {}).items():
        where = f"NetworkPolicy/{name}"
        sel = np_["spec"].get("podSelector") or {}
        selected = r.pods_matching(sel)
        if sel:
            rep.check("selectors", bool(selected), where, "podSelector matches no pod template")

        def port_named(pods: list[PodTemplate], port) -> bool:
            if not isinstance(port, str):
                return True
            return all(
                any(cp.get("name") == port for c in p.containers(init=False) for cp in c.get("ports") or [])
                for p in pods
            ) and bool(pods)

        for rule in np_["spec"].get("ingress") or []:
            for p in rule.get("ports") or []:
                rep.check(
                    "network-policies",
                    port_named(selected, p.get("port")),
                    where,
                    f"ingress port {p.get('port')!r} is not a named port of every selected pod",
                )
        for rule in np_["spec"].get("egress") or []:
            peers = [
                r.pods_matching(t["podSelector"])
                for t in rule.get("to") or []
                if "podSelector" in t and "namespaceSelector" not in t
            ]
            for peer in peers:
                rep.check("selectors", bool(peer), where, "egress peer podSelector matches no pod template")
                for p in rule.get("ports") or []:
                    rep.check(
                        "network-policies",
                        port_named(peer, p.get("port")),
                        where,
                        f"egress port {p.get('port')!r} is not a named port of the peer pods",
                    )
    for name, ing in r.by_kind.get("Ingress", {}).items():
        for rule in ing["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                svc_ref = path["backend"]["service"]
                svc = r.get("Service", svc_ref["name"])
                where = f"Ingress/{name} {rule.get('host')}{path['path']}"
                if rep.check("references", svc is not None, where, f"Service {svc_ref['name']!r} not in the render"):
                    port = svc_ref["port"]
                    ok = any(
                        p.get("name") == port.get("name") if "name" in port else p["port"] == port.get("number")
                        for p in svc["spec"]["ports"]
                    )
                    rep.check("references", ok, where, f"Service {svc_ref['name']} has no port {port}")


def check_seed(r: Rendered, rep: Report) -> None:
    for name, want in SEED_SERVICES.items():
        svc = r.get("Service", name)
        if svc is None:
            continue
        spec = svc["spec"]
        where = f"Service/{name} (seed)"
        rep.check(
            "seed",
            spec.get("selector") == want["selector"],
            where,
            f"selector {spec.get('selector')} != seed {want['selector']}",
        )
        if "port" in want:
            rep.check("seed", any(p["port"] == want["port"] for p in spec["ports"]), where, f"no port {want['port']}")
        if "nodePorts" in want:
            rep.check(
                "seed",
                {p.get("nodePort") for p in spec["ports"]} == want["nodePorts"],
                where,
                f"nodePorts != {sorted(want['nodePorts'])}",
            )
        if want.get("headless"):
            rep.check("seed", spec.get("clusterIP") == "None", where, "must be headless (clusterIP: None)")
    for name, n in SEED_REPLICAS.items():
        d = r.get("Deployment", name)
        if d is None:
            continue
        has_hpa = any(
            h["spec"]["scaleTargetRef"]["name"] == name for h in r.by_kind.get("HorizontalPodAutoscaler", {}).values()
        )
        got = d["spec"].get("replicas")
        if has_hpa:
            mins = [
                h["spec"].get("minReplicas")
                for h in r.by_kind["HorizontalPodAutoscaler"].values()
                if h["spec"]["scaleTargetRef"]["name"] == name
            ]
            rep.check("seed", mins == [n], f"Deployment/{name} (seed)", f"HPA minReplicas {mins} != seed's {n}")
        else:
            rep.check("seed", got == n, f"Deployment/{name} (seed)", f"replicas {got} != seed's {n}")
    for (dep, var), want in SEED_ENV.items():
        d = r.get("Deployment", dep)
        if d is None:
            continue
        vals = [
            e.get("value")
            for c in d["spec"]["template"]["spec"]["containers"]
            for e in c.get("env") or []
            if e["name"] == var
        ]
        rep.check("seed", vals == [want], f"Deployment/{dep} (seed)", f"{var} is {vals}, seed says {want!r}")
    pvc = r.get("PersistentVolumeClaim", "mysql-pv-claim")
    if pvc is not None:
        rep.check(
            "seed",
            pvc["spec"]["resources"]["requests"]["storage"] == "1Gi",
            "PersistentVolumeClaim/mysql-pv-claim (seed)",
            "must request 1Gi",
        )
    d = r.get("Deployment", "mysql")
    if d is not None:
        rep.check(
            "seed",
            d["spec"].get("strategy", {}).get("type") == "Recreate",
            "Deployment/mysql (seed)",
            "strategy must be Recreate",
        )
    for cm, keys in (("db-conf", {"host", "name"}), ("backend-conf", {"server-uri"})):
        obj = r.get("ConfigMap", cm)
        if obj is not None:
            rep.check(
                "seed", keys <= set(obj.get("data") or {}), f"ConfigMap/{cm} (seed)", f"needs keys {sorted(keys)}"
            )
    for s, keys in (("db-credentials", {"username", "password"}), ("db-root-credentials", {"password"})):
        obj = r.get("Secret", s)
        if obj is not None:
            rep.check("seed", keys <= set(obj.get("data") or {}), f"Secret/{s} (seed)", f"needs keys {sorted(keys)}")


# --------------------------------------------------------------------------
# Live probing of the debug binaries
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def probe_binaries(bin_dir: Path, targets: list, rep: Report, require: bool = False) -> None:
    """Start each binary that exists on 127.0.0.1 and request its probe paths.

    The environment is the minimum to start without neighbours: downstream
    URLs point at a closed port (readiness does not depend on them), log
    directories and SQLite files go to a temporary directory.
    """
    wanted: dict[str, set[tuple[str, str]]] = {}
    for image, path, kind in targets:
        wanted.setdefault(image, set()).add((path, kind))
    for image in sorted(wanted):
        binary = (bin_dir / image).resolve()
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            if require:
                rep.fail(f"live probe {image}", f"{binary.name} is not built in {bin_dir}")
            else:
                rep.notes.append(f"live probe: {binary.name} not built in {bin_dir}; checked against routes only")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PORT": str(port),
                "BIND_ADDR": "127.0.0.1",
                "POD_IP": "127.0.0.1",
                "LOG_DIR": tmp,
                "LOG_FORMAT": "json",
                "RUST_LOG": "info",
                "SHUTDOWN_GRACE": "2s",
                "RELAY_URL": "http://127.0.0.1:9/relay.php",
                "SINK_URL": "http://127.0.0.1:9/sink.php",
                "SEND_INTERVAL": "1h",
                "SQLITE_FILE": os.path.join(tmp, "todo.db"),
                "SERVER_URI": "127.0.0.1:9",
                "STORE": "memory",
                # appcoup (one image): its echo takes PORT, its generator
                # needs a port of its own; both share a directory.
                "GENERATOR_PORT": "0",
                "DATA_DIR": os.path.join(tmp, "out"),
                "SERVE_DIR": tmp,
            }
            log = open(os.path.join(tmp, "stderr.log"), "w+b")
            proc = subprocess.Popen([str(binary)], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 15
                status = None
                while time.monotonic() < deadline and proc.poll() is None:
                    status = http_status(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    if status is not None:
                        break
                    time.sleep(0.2)
                if status is None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-600:]
                    rep.fail(
                        f"live probe {image}",
                        f"did not answer on 127.0.0.1:{port} within 15s (exit {proc.poll()}): {tail}",
                    )
                    continue
                for path, kind in sorted(wanted[image]):
                    got = http_status(f"http://127.0.0.1:{port}{path}")
                    expect_ok = kind == "livenessProbe" or kind == "startupProbe"
                    ok = got == 200 if expect_ok else got in (200, 503)
                    rep.check(
                        "live-probes",
                        ok,
                        f"live probe {image}",
                        f"{kind} GET {path} answered {got} (want {'200' if expect_ok else '200 or 503'})",
                    )
                rep.check(
                    "live-probes",
                    http_status(f"http://127.0.0.1:{port}/metrics") == 200,
                    f"live probe {image}",
                    "GET /metrics is not 200",
                )
                # The answers above must have come from this process (not from
                # something else that grabbed the port first).
                rep.check("live-probes", proc.poll() is None, f"live probe {image}", "exited before SIGTERM")
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(timeout=10)
                    if code != 0:
                        log.seek(0)
                        tail = log.read().decode(errors="replace")[-600:]
                        rep.fail(f"live probe {image}", f"exit code {code} after SIGTERM (want 0); output: {tail}")
                    else:
                        rep.ok("live-probes")
                except subprocess.TimeoutExpired:
                    rep.fail(f"live probe {image}", "still running 10s after SIGTERM with SHUTDOWN_GRACE=2s")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()


# --------------------------------------------------------------------------
# Self-test: the checker must notice each of these planted mistakes
# --------------------------------------------------------------------------


def _obj(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name)


def _container(docs: list[dict], deployment: str, index: int = 0) -> dict:
    return _obj(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][index]


def _env(c: dict, name: str) -> dict:
    return next(e for e in c["env"] if e["name"] == name)


#: (what is broken, how to break a copy of the all-components render).
MUTATIONS = [
    (
        "SINK_URL names a Service port that does not exist",
        lambda d: _env(_container(d, "relays"), "SINK_URL").update(value="sink-svc:8080/sink.php"),
    ),
    (
        "RELAY_URL names a Service that does not exist",
        lambda d: _env(_container(d, "senders"), "RELAY_URL").update(value="relay/relay.php"),
    ),
    (
        "the second URL of a list names a Service that does not exist",
        lambda d: _env(_container(d, "senders"), "RELAY_URL").update(value="relay-svc/relay.php,relay-svc-2/relay.php"),
    ),
    (
        "a Service selector matches no pod",
        lambda d: _obj(d, "Service", "sink-svc")["spec"]["selector"].update(role="sinks"),
    ),
    (
        "a targetPort is no containerPort",
        lambda d: _obj(d, "Service", "relay-svc")["spec"]["ports"][0].update(targetPort="web"),
    ),
    ("a NodePort is used twice", lambda d: _obj(d, "Service", "sink-svc")["spec"]["ports"][0].update(nodePort=30000)),
    (
        "a writable root file system",
        lambda d: _container(d, "sinks")["securityContext"].update(readOnlyRootFilesystem=False),
    ),
    ("capabilities not dropped", lambda d: _container(d, "relays")["securityContext"].pop("capabilities")),
    (
        "privilege escalation allowed",
        lambda d: _container(d, "to-do-app-frontend")["securityContext"].update(allowPrivilegeEscalation=True),
    ),
    (
        "running as root",
        lambda d: _obj(d, "Deployment", "senders")["spec"]["template"]["spec"]["securityContext"].update(
            runAsNonRoot=False
        ),
    ),
    (
        "a probe path the binary does not serve",
        lambda d: _container(d, "sinks")["livenessProbe"]["httpGet"].update(path="/health"),
    ),
    (
        "a containerPort that is not the port the binary listens on",
        lambda d: _container(d, "relays")["ports"][0].update(containerPort=80),
    ),
    (
        "a ConfigMap key that does not exist",
        lambda d: _env(_container(d, "to-do-app-backend"), "DB_HOST")["valueFrom"]["configMapKeyRef"].update(
            key="hostname"
        ),
    ),
    (
        "a grace period shorter than the drain",
        lambda d: _obj(d, "Deployment", "sinks")["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=5),
    ),
    (
        "CONTROLLER_PORT that is not the Controller's NodePort",
        lambda d: _env(_container(d, "tool-portal-pods", 0), "CONTROLLER_PORT").update(value="30101"),
    ),
    ("an image on :latest", lambda d: _container(d, "senders").update(image="registry.example.com/x/sender:latest")),
    ("the seed's replica count changed", lambda d: _obj(d, "Deployment", "senders")["spec"].update(replicas=1)),
    (
        "POD_IP not from the downward API",
        lambda d: _container(d, "relays").update(
            env=[e for e in _container(d, "relays")["env"] if e["name"] != "POD_IP"]
        ),
    ),
    (
        "a NetworkPolicy port name no pod has",
        lambda d: _obj(d, "NetworkPolicy", "relay-to-sink-egress")["spec"]["egress"][0]["ports"][0].update(port="htp"),
    ),
    (
        "an Ingress backend Service that does not exist",
        lambda d: _obj(d, "Ingress", "to-do-app")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(
            name="backend"
        ),
    ),
    ("an HPA target that still sets replicas", lambda d: _obj(d, "Deployment", "relays")["spec"].update(replicas=2)),
    (
        "GRAPHQL_MODE with a value the frontend does not know",
        lambda d: _env(_container(d, "to-do-app-frontend"), "GRAPHQL_MODE").update(value="proxied"),
    ),
    (
        "CONTROLLER_MODE not set",
        lambda d: _container(d, "tool-portal-pods", 0).update(
            env=[e for e in _container(d, "tool-portal-pods", 0)["env"] if e["name"] != "CONTROLLER_MODE"]
        ),
    ),
    (
        "CONTROLLER_UPSTREAM on a port no container of the pod has",
        lambda d: _env(_container(d, "tool-portal-pods", 0), "CONTROLLER_UPSTREAM").update(
            value="http://localhost:8082"
        ),
    ),
    (
        "proxy-mode SERVER_URI names no Service (a browser address instead)",
        lambda d: _obj(d, "ConfigMap", "backend-conf")["data"].update({"server-uri": "localhost:30301"}),
    ),
    (
        "direct-mode SERVER_URI that the browser cannot reach",
        lambda d: _env(_container(d, "to-do-app-frontend"), "GRAPHQL_MODE").update(value="direct"),
    ),
    (
        "a pod template without the scrape annotation",
        lambda d: _obj(d, "Deployment", "relays")["spec"]["template"]["metadata"].pop("annotations"),
    ),
    (
        "a scrape annotation on a port nothing listens on",
        lambda d: _obj(d, "Deployment", "sinks")["spec"]["template"]["metadata"]["annotations"].update(
            {"prometheus.io/port": "9090"}
        ),
    ),
    (
        "a PodMonitor port name the pods do not have",
        lambda d: _obj(d, "PodMonitor", "tool-portal")["spec"]["podMetricsEndpoints"][1].update(port="controller"),
    ),
    (
        "a PodMonitor field the CRD does not know",
        lambda d: _obj(d, "PodMonitor", "to-do-app")["spec"]["podMetricsEndpoints"][0].update(intervall="30s"),
    ),
    (
        "a PodMonitor selecting no pod",
        lambda d: _obj(d, "PodMonitor", "message-chain")["spec"]["selector"]["matchLabels"].update(app="chain"),
    ),
    (
        "MySQL's data volume mounted at its root",
        lambda d: _container(d, "mysql")["volumeMounts"][0].pop("subPath"),
    ),
    (
        "a PVC that does not exist",
        lambda d: _obj(d, "Deployment", "mysql")["spec"]["template"]["spec"]["volumes"][0][
            "persistentVolumeClaim"
        ].update(claimName="mysql-pvc"),
    ),
]


def self_test(path: str) -> int:
    import copy

    with open(path, encoding="utf-8") as f:
        base = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    rep = Report()
    for fn in (check_services, check_others, check_seed):
        fn(Rendered(copy.deepcopy(base)), rep)
    check_pods(Rendered(copy.deepcopy(base)), rep, None, [])
    if rep.failures:
        print("self-test: the unmodified render already fails:", *rep.failures, sep="\n  ")
        return 1
    missed = 0
    for what, mutate in MUTATIONS:
        docs = copy.deepcopy(base)
        mutate(docs)
        rep = Report()
        r = Rendered(docs)
        check_services(r, rep)
        check_pods(r, rep, None, [])
        check_others(r, rep)
        check_seed(r, rep)
        caught = bool(rep.failures)
        missed += not caught
        print(f"  {'caught' if caught else 'MISSED'}  {what}" + (f"  ({rep.failures[0]})" if caught else ""))
    print(f"self-test: {len(MUTATIONS) - missed}/{len(MUTATIONS)} planted mistakes caught")
    return 1 if missed else 0


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=Path, help="workspace root, to read routes from the crates' source")
    ap.add_argument("--binaries", type=Path, help="directory with built binaries (e.g. target/debug) to probe live")
    ap.add_argument(
        "--require-binaries",
        action="store_true",
        help="with --binaries: a service binary that is not built is a failure",
    )
    ap.add_argument(
        "--podman",
        action="append",
        default=[],
        metavar="NAME",
        help="this entry point is meant for `podman kube play` (no liveness probes)",
    )
    ap.add_argument("rendered", nargs="+", help="NAME=FILE: output of `kubectl kustomize` for one entry point")
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        return self_test(sys.argv[2])
    args = ap.parse_args()

    total_fail = 0
    targets: list = []
    summary = []
    for item in args.rendered:
        name, _, path = item.partition("=")
        if not path:
            name, path = Path(item).stem, item
        with open(path, encoding="utf-8") as f:
            docs = list(yaml.safe_load_all(f))
        r = Rendered(docs)
        rep = Report()
        check_services(r, rep)
        check_pods(r, rep, args.repo, targets, podman=name in args.podman)
        check_others(r, rep)
        check_seed(r, rep)
        n_ok = sum(rep.passed.values())
        status = "ok" if not rep.failures else "FAIL"
        summary.append((name, len(r.docs), n_ok, len(rep.failures), status))
        print(
            f"== {name}: {len(r.docs)} objects, {len(r.pods)} pod templates, {n_ok} checks passed, {len(rep.failures)} failed"
        )
        for cat in sorted(rep.passed):
            print(f"   {cat:17} {rep.passed[cat]:4} passed")
        for msg in rep.failures:
            print(f"   FAIL {msg}")
        for msg in sorted(set(rep.notes)):
            print(f"   note {msg}")
        total_fail += len(rep.failures)

    if args.binaries:
        rep = Report()
        unique = sorted(set(targets))
        probe_binaries(args.binaries, unique, rep, require=args.require_binaries)
        n_ok = sum(rep.passed.values())
        print(f"== live probes ({args.binaries}): {n_ok} checks passed, {len(rep.failures)} failed")
        for msg in rep.failures:
            print(f"   FAIL {msg}")
        for msg in sorted(set(rep.notes)):
            print(f"   note {msg}")
        summary.append(("live probes", 0, n_ok, len(rep.failures), "ok" if not rep.failures else "FAIL"))
        total_fail += len(rep.failures)

    print("\nconsistency summary:")
    for name, _docs, n_ok, n_fail, status in summary:
        print(f"  {status:4} {name:28} {n_ok:4} passed {n_fail:3} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
