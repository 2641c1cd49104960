#!/usr/bin/env python3
"""What no general tool knows about these manifests: how their objects fit
together, and how they fit our binaries.

scripts/check-k8s.sh first runs well-kept tools that see one object at a
time: kubernetes-validate (the strict Kubernetes schemas), yamllint, and
checkov, with its hardening checks (skip list with reasons: .checkov.yaml)
and this project's conventions as YAML policies in scripts/checkov-policies/
(runAsNonRoot, the app.kubernetes.io labels, images with a registry,
MySQL's subPath, what the seeds fix). This script checks, in the output of
`kubectl kustomize`, one entry point at a time, only what needs two objects
or an object and our binary:

  * wiring: every service URL in an env var (…_URL, …_URI, DB_HOST,
    REDIS_HOST, POSTGRES_HOST, CONTROLLER_UPSTREAM, comma-separated lists)
    names a Service of the render and one of its ports, or a port of the
    same pod for localhost; browser-facing URLs name a NodePort or an
    Ingress host (which URLs are browser-facing depends on GRAPHQL_MODE and
    CONTROLLER_MODE, so those must be set, to proxy or direct);
    CONTROLLER_PORT is the nodePort (or podman hostPort) that reaches the
    controller; Services select pods, on their containerPorts, with unique
    nodePorts; ConfigMap/Secret keys, PVCs, pull secrets, HPA targets (which
    must not set replicas), PDB and NetworkPolicy selectors and named ports,
    and Ingress backends resolve. A misspelt name here is a pod that never
    gets ready, or requests that go nowhere.
  * the binaries: each of our binaries is asked `describe` (service-kit's
    subcommand that prints its port, probe and metrics paths): the
    containerPort is the port it listens on, liveness and readiness probes
    use its liveness and readiness paths (liveness on /readyz would restart
    draining pods). Then each binary is started on 127.0.0.1 and every path
    the manifests name is requested: probes (liveness 200, readiness 200 or
    503), the scrape path of the annotations and PodMonitors, and the path
    of every URL that leads to it (the relay's SINK_URL /sink.php asks the
    sink: anything but 404 means the route exists).
  * shutdown: terminationGracePeriodSeconds exceeds preStop sleep +
    SHUTDOWN_GRACE, so the drain ends before the kubelet's SIGKILL; POD_IP
    comes from the downward API (the chain names its log files after it),
    except for `podman kube play`, which can run neither that nor a
    liveness probe: the podman renders drop both.
  * PodMonitors, a Custom Resource kubernetes-validate has no schema for:
    against scripts/schemas/ (the part of the CRD we use, strict).

What the API server refuses on its own (a workload selector that misses its
template, a volumeMount without a volume, a nodePort out of range) is left
to it.

Usage:
  k8s_consistency.py [--binaries DIR [--require-binaries]] [--podman NAME] NAME=RENDERED.yaml ...
  k8s_consistency.py --self-test RENDERED-ALL-COMPONENTS.yaml [--binaries DIR] [--checkov CMD...]

The self-test plants the mistakes of scripts/k8s-planted-mistakes.yaml in
copies of a render and requires each to be caught by the tool that owns it
(this script, or a checkov check or policy), and prints which one caught
it. Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import json
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

import jsonschema  # installed with kubernetes-validate (scripts/check-k8s.sh pins it)
import yaml

#: The images built from this workspace (their binaries answer `describe`).
OUR_IMAGES = {"sender", "relay", "sink", "portal-model", "portal-controller", "todo-backend", "todo-frontend",
              "generator", "echo", "appcoup", "vote", "worker", "result"}
#: Third-party images and the port they listen on.
OTHER_IMAGES = {"mongo": 27017, "mysql": 3306, "redis": 6379, "postgres": 5432}

#: Env vars whose value is a URL the browser uses (not resolved in-cluster).
#: SERVER_URI is one only when the same container sets GRAPHQL_MODE=direct.
BROWSER_URL_VARS = {"SERVER_URI", "CONTROLLER_URL"}
#: Env vars without the _URL/_URI suffix that still hold a service URL.
EXTRA_URL_VARS = {"CONTROLLER_UPSTREAM"}
#: Env vars holding a bare host[:port], and the scheme that implies the port.
HOST_VARS = {"DB_HOST": "mysql", "REDIS_HOST": "redis", "POSTGRES_HOST": "postgres"}
SCHEME_PORTS = {"http": 80, "https": 443, "mongodb": 27017, "mysql": 3306, "redis": 6379, "postgres": 5432}
#: The port the browser uses to reach another container of the same pod.
BROWSER_PORT_VARS = {"CONTROLLER_PORT": "portal-controller"}
#: The proxy/direct switches: image -> (env var, the URL var that is
#: browser-facing only in "direct" mode).
MODE_VARS = {"todo-frontend": ("GRAPHQL_MODE", "SERVER_URI"), "portal-model": ("CONTROLLER_MODE", "CONTROLLER_URL")}
MODES = {"proxy", "direct"}

EXTERNAL_SECRETS = {"regcred"}  # image pull secret created out of band (components/regcred)
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
#: JSON schemas of the Custom Resources we use, by kind.
SCHEMAS = {"PodMonitor": Path(__file__).parent / "schemas" / "podmonitor-monitoring.coreos.com-v1.json"}


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: int = 0

    def check(self, cond: bool, where: str, message: str) -> bool:
        if cond:
            self.passed += 1
        else:
            self.failures.append(f"{where}: {message}")
        return cond


# --------------------------------------------------------------------------
# The rendered objects
# --------------------------------------------------------------------------


def short_name(c: dict) -> str:
    """A container's image without registry and tag: `registry/x/relay:0.1.0` -> `relay`."""
    return c.get("image", "").split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[0]


@dataclass
class PodTemplate:
    owner: str  # "Deployment/relays"
    labels: dict
    annotations: dict
    spec: dict

    def containers(self) -> list[dict]:
        return list(self.spec.get("containers") or [])

    def ports(self) -> list[tuple[dict, dict]]:
        return [(c, p) for c in self.containers() for p in c.get("ports") or []]


class Rendered:
    def __init__(self, docs: list):
        self.docs = [d for d in docs if isinstance(d, dict)]
        self.by_kind: dict[str, dict[str, dict]] = {}
        self.pods: list[PodTemplate] = []
        for d in self.docs:
            kind, name = d.get("kind", "?"), d["metadata"]["name"]
            self.by_kind.setdefault(kind, {})[name] = d
            meta, spec = (d["metadata"], d["spec"]) if kind == "Pod" else (None, None)
            if kind in WORKLOAD_KINDS:
                meta, spec = d["spec"]["template"].get("metadata") or {}, d["spec"]["template"]["spec"]
            if spec is not None:
                self.pods.append(PodTemplate(f"{kind}/{name}", meta.get("labels") or {},
                                             meta.get("annotations") or {}, spec))

    def get(self, kind: str, name: str) -> dict | None:
        return self.by_kind.get(kind, {}).get(name)

    def all(self, kind: str) -> list[dict]:
        return list(self.by_kind.get(kind, {}).values())

    def pods_matching(self, selector: dict) -> list[PodTemplate]:
        return [p for p in self.pods if selector_matches(selector, p.labels)]


def selector_matches(selector: dict, labels: dict) -> bool:
    """matchLabels/matchExpressions, or a plain Service selector map."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values}.get(
            op, (key in labels) == (op == "Exists"))
        if not ok:
            return False
    return True


def port_matches(target, cport: dict) -> bool:
    return cport.get("name") == target if isinstance(target, str) else cport["containerPort"] == target


def parse_duration(raw: str) -> float | None:
    """humantime-style `10s`, `500ms`, `1m` (the services' SHUTDOWN_GRACE)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", raw or "")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2) or "s"] if m else None


# --------------------------------------------------------------------------
# The binaries: `describe`, then the paths requested from a running one
# --------------------------------------------------------------------------


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


#: The least environment every binary starts with: downstream URLs at a
#: closed port (readiness does not depend on them), in-memory stores, files
#: under {tmp}; appcoup's echo takes PORT, its generator GENERATOR_PORT.
START_ENV = {"BIND_ADDR": "127.0.0.1", "POD_IP": "127.0.0.1", "LOG_DIR": "{tmp}", "LOG_FORMAT": "json",
             "RUST_LOG": "info", "SHUTDOWN_GRACE": "2s", "RELAY_URL": "http://127.0.0.1:9/relay.php",
             "SINK_URL": "http://127.0.0.1:9/sink.php", "SEND_INTERVAL": "1h", "SQLITE_FILE": "{tmp}/todo.db",
             "SERVER_URI": "127.0.0.1:9", "STORE": "memory", "GENERATOR_PORT": "0", "DATA_DIR": "{tmp}/out",
             "SERVE_DIR": "{tmp}"}


class Binaries:
    """The built binaries of our images. Each is described once and, when a
    path is first asked of it, started once on 127.0.0.1 with START_ENV;
    answers are cached, so the self-test's many renders cost one start per
    binary. `stop()` sends SIGTERM and requires a clean exit within 10 s."""

    def __init__(self, bin_dir: Path | None, require: bool):
        self.bin_dir, self.require = bin_dir, require
        self.tmp = tempfile.TemporaryDirectory()
        self.described: dict[str, dict | None] = {}
        self.running: dict[str, tuple[subprocess.Popen, int, object] | None] = {}
        self.answers: dict[tuple[str, str], int | None] = {}
        self.rep = Report()  # failures of the binaries themselves

    def env(self, image: str) -> dict[str, str]:
        tmp = os.path.join(self.tmp.name, image)
        os.makedirs(tmp, exist_ok=True)
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")} | {
            k: v.format(tmp=tmp) for k, v in START_ENV.items()}

    def path(self, image: str) -> Path | None:
        binary = (self.bin_dir / image).resolve() if self.bin_dir else None
        if binary is None or (binary.is_file() and os.access(binary, os.X_OK)):
            return binary
        if self.require:
            self.rep.check(False, f"binary {image}", f"not built in {self.bin_dir}")
        else:
            self.rep.notes.append(f"{image} is not built in {self.bin_dir}: its port and paths are not checked")
        return None

    def describe(self, image: str) -> dict | None:
        """`<binary> describe` (PORT unset: the binary's own default)."""
        if image not in self.described:
            self.described[image], binary = None, self.path(image)
            if binary is not None:
                out = subprocess.run([binary, "describe"], env=self.env(image), capture_output=True, text=True,
                                     timeout=20)
                if self.rep.check(out.returncode == 0, f"binary {image}", f"`describe` failed: {out.stderr[-400:]}"):
                    self.described[image] = json.loads(out.stdout)
        return self.described[image]

    def status(self, image: str, path: str) -> int | None | str:
        """The status of GET path on a running `image`; "unknown" when the
        binary is not available."""
        if image not in self.running:
            self.running[image] = self.start(image)
        if self.running[image] is None:
            return "unknown"
        if (image, path) not in self.answers:
            self.answers[(image, path)] = http_status(f"http://127.0.0.1:{self.running[image][1]}{path}")
        return self.answers[(image, path)]

    def start(self, image: str):
        binary = self.path(image)
        if binary is None:
            return None
        with socket.socket() as s:  # a free port
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = self.env(image) | {"PORT": str(port)}
        log = open(os.path.join(env["LOG_DIR"], "stderr.log"), "w+b")
        proc = subprocess.Popen([str(binary)], env=env, cwd=env["LOG_DIR"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            if http_status(f"http://127.0.0.1:{port}/healthz", timeout=1) is not None:
                return proc, port, log
            time.sleep(0.2)
        proc.kill()
        proc.wait()
        log.seek(0)
        self.rep.check(False, f"binary {image}", f"no answer on 127.0.0.1:{port} within 15s: {log.read()[-600:]!r}")
        return None

    def stop(self) -> None:
        for image, run in sorted((i, run) for i, run in self.running.items() if run is not None):
            proc, _, log = run
            # The answers must have come from this process, not from
            # something else that grabbed the port.
            self.rep.check(proc.poll() is None, f"binary {image}", "exited before SIGTERM")
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
                log.seek(0)
                self.rep.check(code == 0, f"binary {image}", f"exit {code} after SIGTERM: {log.read()[-600:]!r}")
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.rep.check(False, f"binary {image}", "still running 10s after SIGTERM with SHUTDOWN_GRACE=2s")
            log.close()
        self.running.clear()


def check_served(bins: Binaries, rep: Report, where: str, image: str, path: str, want: str) -> None:
    """Ask the running binary (when there is one) for `path`. want: "ok"
    (200), "probe" (200, or 503 while draining), "route" (anything but 404:
    a POST route answers 405 to GET, and that still proves it exists)."""
    got = bins.status(image, path)
    if got != "unknown":
        ok, text = {"ok": (got == 200, "200"), "probe": (got in (200, 503), "200 or 503"),
                    "route": (got not in (None, 404), "not 404")}[want]
        rep.check(ok, where, f"{image} answers GET {path} with {got} (want {text})")


# --------------------------------------------------------------------------
# Wiring, ports, probes and shutdown
# --------------------------------------------------------------------------


def resolve_env(r: Rendered, where: str, c: dict, rep: Report) -> dict[str, str | None]:
    """Env values as the container will see them (None: not known from the
    render); every ConfigMap/Secret key reference must resolve."""
    out: dict[str, str | None] = {}
    for e in c.get("env") or []:
        src = e.get("valueFrom") or {}
        out[e["name"]] = str(e["value"]) if "value" in e else None
        for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if key in src:
                ref = src[key]
                obj = r.get(kind, ref["name"]) or {}
                data = dict(obj.get("data") or {}) | dict(obj.get("stringData") or {})
                rep.check(ref["key"] in data or ref.get("optional", False), where,
                          f"env {e['name']}: {kind} {ref['name']!r} key {ref['key']!r} is not in the render")
                if kind == "ConfigMap" and ref["key"] in data:
                    out[e["name"]] = str(data[ref["key"]])
        if e["name"] == "POD_IP":
            rep.check(src.get("fieldRef", {}).get("fieldPath") == "status.podIP", where,
                      "POD_IP must come from fieldRef status.podIP")
    return out


def check_services(r: Rendered, rep: Report) -> None:
    node_ports: dict[int, str] = {}
    for svc in r.all("Service"):
        where, spec = f"Service/{svc['metadata']['name']}", svc["spec"]
        pods = r.pods_matching(spec["selector"]) if spec.get("selector") else []
        if not rep.check(bool(pods), where, f"selector {spec.get('selector')} matches no pod template"):
            continue
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port["port"])
            for pod in pods:
                found = any(port_matches(target, cp) for _, cp in pod.ports())
                rep.check(found, where, f"targetPort {target!r} is no containerPort of {pod.owner}")
            if "nodePort" in port:
                n = port["nodePort"]
                if rep.check(n not in node_ports, where, f"nodePort {n} already used by {node_ports.get(n)}"):
                    node_ports[n] = where


def url_target(r: Rendered, pod: PodTemplate, svc: dict | None, port: int) -> set[str]:
    """Our images that serve a request to `port` of `svc` (None: localhost in `pod`)."""
    if svc is None:
        return {short_name(c) for c, cp in pod.ports() if cp["containerPort"] == port} & OUR_IMAGES
    return {short_name(c) for p in svc["spec"].get("ports") or [] if p["port"] == port
            for target in r.pods_matching(svc["spec"].get("selector") or {"-": "-"})
            for c, cp in target.ports() if port_matches(p.get("targetPort", p["port"]), cp)} & OUR_IMAGES


def check_url(r: Rendered, rep: Report, bins: Binaries, pod: PodTemplate, where: str, var: str, value: str,
              browser: bool) -> None:
    label = f"env {var}={value!r}"
    try:
        parts = urlsplit(value if "://" in value else f"{HOST_VARS.get(var, 'http')}://{value}")
        host, port, path = parts.hostname, parts.port or SCHEME_PORTS.get(parts.scheme), parts.path
    except ValueError as err:
        rep.check(False, where, f"{label} is not a URL: {err}")
        return
    if not rep.check(bool(host) and port is not None, where, f"{label}: no host or port"):
        return
    if browser:
        # The browser is outside the cluster: a NodePort on any node, or an Ingress host.
        node_ports = {p.get("nodePort") for s in r.all("Service") for p in s["spec"].get("ports") or []}
        hosts = {rule.get("host") for i in r.all("Ingress") for rule in i["spec"].get("rules") or []}
        ok = (host in hosts and port in (80, 443)) or port in node_ports
        rep.check(ok, where, f"{label} (browser-facing): port {port} is no NodePort and {host!r} no Ingress host")
        return
    if host in ("localhost", "127.0.0.1", "::1"):
        svc, ports = None, {cp["containerPort"] for _, cp in pod.ports()}
        if not rep.check(port in ports, where, f"{label}: no container of this pod declares port {port}"):
            return
    else:
        name = host.split(".", 1)[0]
        if host.count(".") > 1 and not re.search(r"\.svc(\.cluster\.local)?$", host):
            rep.check(False, where, f"{label}: {host!r} is not a cluster Service name")
            return
        svc = r.get("Service", name)
        if not rep.check(svc is not None, where, f"{label}: no Service {name!r} in the render"):
            return
        ports = {p["port"] for p in svc["spec"].get("ports") or []}
        if not rep.check(port in ports, where, f"{label}: Service {name} has ports {sorted(ports)}, not {port}"):
            return
    if path not in ("", "/"):
        for image in sorted(url_target(r, pod, svc, port)):
            check_served(bins, rep, f"{where} {label}", image, path, "route")


def check_browser_port(r: Rendered, rep: Report, pod: PodTemplate, where: str, var: str, value: str) -> None:
    """`CONTROLLER_PORT=30100`: the port on the page's host that reaches the controller."""
    image = BROWSER_PORT_VARS[var]
    mine = [cp for c, cp in pod.ports() if short_name(c) == image]
    if not rep.check(bool(mine), where, f"env {var}: no {image} container in this pod"):
        return
    reach = {cp["hostPort"] for cp in mine if "hostPort" in cp}
    for svc in r.all("Service"):
        if svc["spec"].get("selector") and selector_matches(svc["spec"]["selector"], pod.labels):
            reach |= {p["nodePort"] for p in svc["spec"].get("ports") or [] if "nodePort" in p and
                      any(port_matches(p.get("targetPort", p["port"]), cp) for cp in mine)}
    rep.check(value.isdigit() and int(value) in reach, where,
              f"env {var}={value!r}: the {image} container is reachable from outside on {sorted(reach) or 'no port'}")


def check_env(r: Rendered, rep: Report, bins: Binaries, pod: PodTemplate, where: str, short: str,
              env: dict[str, str | None]) -> None:
    """Every URL, host and browser port in the environment leads somewhere."""
    browser_vars = set(BROWSER_URL_VARS)
    if short in MODE_VARS:
        mode_var, url_var = MODE_VARS[short]
        rep.check(env.get(mode_var) in MODES, where,
                  f"env {mode_var}={env.get(mode_var)!r}: set it explicitly to one of {sorted(MODES)}")
        if env.get(mode_var) != "direct":
            browser_vars.discard(url_var)  # proxy mode: this service calls it, in-cluster
    for var, value in env.items():
        if value is None:
            continue
        if var.endswith(("_URL", "_URI")) or var in HOST_VARS or var in EXTRA_URL_VARS:
            # RELAY_URL/SINK_URL may list several URLs (the chain's Upstream);
            # a mongodb:// URL lists hosts with commas.
            single = var in BROWSER_URL_VARS | set(HOST_VARS) | EXTRA_URL_VARS or value.startswith("mongodb://")
            for part in [value] if single else value.split(","):
                check_url(r, rep, bins, pod, where, var, part.strip(), browser=var in browser_vars)
        if var in BROWSER_PORT_VARS:
            check_browser_port(r, rep, pod, where, var, value)


def check_binary(rep: Report, bins: Binaries, where: str, c: dict, short: str, env: dict) -> None:
    """The container's port and probes against what its binary says and serves."""
    declared = {p["containerPort"] for p in c.get("ports") or []}
    described = bins.describe(short) if short in OUR_IMAGES else None
    listen = OTHER_IMAGES.get(short)
    if described is not None:
        listen = int(env["PORT"]) if env.get("PORT") else described["port"]
    if listen is not None:
        rep.check(listen in declared if short in OTHER_IMAGES else declared == {listen}, where,
                  f"{short} listens on {listen} (PORT, else `{short} describe`), declares {sorted(declared)}")
    if short not in OUR_IMAGES:
        return
    for kind, role in (("livenessProbe", "liveness"), ("readinessProbe", "readiness"), ("startupProbe", None)):
        probe = c.get(kind)
        if not probe or not rep.check("httpGet" in probe, where, f"{kind} should be an httpGet on a probe path"):
            continue
        http = probe["httpGet"]
        rep.check(any(port_matches(http["port"], p) for p in c.get("ports") or []), where,
                  f"{kind} port {http['port']!r} is not a containerPort")
        check_served(bins, rep, where, short, http["path"], "probe" if role == "readiness" else "ok")
        # Liveness on the readiness path would restart every pod that
        # drains; readiness on the liveness path would keep sending it
        # traffic while it drains.
        if described is not None and role is not None:
            want = described["probes"][role]
            rep.check(http["path"] == want, where, f"{kind} path {http['path']!r}: {short} says {want}")


def check_pods(r: Rendered, rep: Report, bins: Binaries, podman: bool = False) -> None:
    for pod in r.pods:
        grace = pod.spec.get("terminationGracePeriodSeconds", 30)
        for c in pod.containers():
            where, short = f"{pod.owner}/{c['name']}", short_name(c)
            env = resolve_env(r, where, c, rep)
            check_env(r, rep, bins, pod, where, short, env)
            check_binary(rep, bins, where, c, short, env)
            if podman:
                # podman runs a livenessProbe as a command inside the
                # container (curl/nc), which the runtime images lack, and
                # refuses fieldRef status.podIP.
                rep.check("livenessProbe" not in c and "readinessProbe" in c, where,
                          "for podman: keep the readiness probe, drop the liveness probe")
                rep.check("POD_IP" not in env, where, "for podman: drop POD_IP")
            elif short in OUR_IMAGES:
                rep.check("POD_IP" in env, where, "POD_IP (downward API) is not set")
            if short in OUR_IMAGES:
                drain = parse_duration(env.get("SHUTDOWN_GRACE") or "10s") or 10
                pre = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
                rep.check(grace > drain + pre, where, f"terminationGracePeriodSeconds {grace} must exceed "
                          f"preStop {pre}s + SHUTDOWN_GRACE {drain:g}s")


# --------------------------------------------------------------------------
# Metrics and references between objects
# --------------------------------------------------------------------------


def metrics_ports(pod: PodTemplate) -> list[tuple[str | None, int, str]]:
    """(name, number, image) of every port where one of our binaries serves /metrics."""
    return [(cp.get("name"), cp["containerPort"], short_name(c))
            for c, cp in pod.ports() if short_name(c) in OUR_IMAGES]


def check_metrics(r: Rendered, rep: Report, bins: Binaries) -> None:
    """Scrape annotations on every pod template, and the PodMonitors."""
    for pod in r.pods:
        ann, ports = pod.annotations, metrics_ports(pod)
        scrape, want = ann.get("prometheus.io/scrape"), "true" if ports else "false"
        if rep.check(scrape == want, pod.owner, f"prometheus.io/scrape is {scrape!r}, want {want!r}") and ports:
            port = ann.get("prometheus.io/port", "")
            hits = [image for _, n, image in ports if str(n) == port]
            numbers = sorted(n for _, n, _ in ports)
            if rep.check(bool(hits), pod.owner, f"prometheus.io/port {port!r}: /metrics is served on {numbers}"):
                check_served(bins, rep, pod.owner, hits[0], ann.get("prometheus.io/path", "/metrics"), "ok")
    covered: set[tuple[str, str]] = set()
    for pm in r.all("PodMonitor"):
        where, spec = f"PodMonitor/{pm['metadata']['name']}", pm.get("spec") or {}
        selected = r.pods_matching(spec["selector"]) if spec.get("selector") else []
        if not rep.check(bool(selected), where, "selector missing or matches no pod template"):
            continue
        for ep in spec.get("podMetricsEndpoints") or []:
            hits = [(p, image) for p in selected for n, _, image in metrics_ports(p) if n == ep.get("port")]
            if rep.check(bool(hits), where,
                         f"port {ep.get('port')!r} is no named port where a selected pod's binary serves /metrics"):
                check_served(bins, rep, where, hits[0][1], ep.get("path", "/metrics"), "ok")
            covered |= {(p.owner, ep.get("port")) for p, _ in hits}
    if r.all("PodMonitor"):
        for pod in r.pods:
            for port_name, number, image in metrics_ports(pod):
                rep.check((pod.owner, port_name) in covered, pod.owner,
                          f"{image}'s /metrics on port {port_name or number} is scraped by no PodMonitor")


def check_schemas(r: Rendered, rep: Report) -> None:
    """The Custom Resources kubernetes-validate has no schema for."""
    for kind, path in SCHEMAS.items():
        schema = json.loads(path.read_text(encoding="utf-8"))
        for obj in r.all(kind):
            errors = [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                      for e in jsonschema.Draft202012Validator(schema).iter_errors(obj)]
            rep.check(not errors, f"{kind}/{obj['metadata']['name']}", f"schema {path.name}: {'; '.join(errors)}")


def check_references(r: Rendered, rep: Report) -> None:
    """Names that must lead to an object of the render."""
    for pod in r.pods:
        for ps in pod.spec.get("imagePullSecrets") or []:
            rep.check(ps["name"] in EXTERNAL_SECRETS or r.get("Secret", ps["name"]) is not None, pod.owner,
                      f"imagePullSecret {ps['name']!r} unknown")
        for v in pod.spec.get("volumes") or []:
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                rep.check(r.get("PersistentVolumeClaim", claim) is not None, pod.owner,
                          f"volume {v['name']}: PVC {claim!r} not in the render")
    for hpa in r.all("HorizontalPodAutoscaler"):
        ref, where = hpa["spec"]["scaleTargetRef"], f"HorizontalPodAutoscaler/{hpa['metadata']['name']}"
        target = r.get(ref["kind"], ref["name"])
        if rep.check(target is not None, where, f"target {ref['kind']}/{ref['name']} not in the render"):
            rep.check("replicas" not in target["spec"], where,
                      f"{ref['name']} still sets spec.replicas: every apply would fight the autoscaler")
    for pdb in r.all("PodDisruptionBudget"):
        rep.check(bool(r.pods_matching(pdb["spec"]["selector"])), f"PodDisruptionBudget/{pdb['metadata']['name']}",
                  "selector matches no pod template")
    for np_ in r.all("NetworkPolicy"):
        where, sel = f"NetworkPolicy/{np_['metadata']['name']}", np_["spec"].get("podSelector") or {}
        selected = r.pods_matching(sel)
        rep.check(bool(selected) or not sel, where, "podSelector matches no pod template")
        # A port given by name must be a named port of every pod it applies
        # to: the selected pods for ingress, the peer pods for egress.
        rules = [(selected, rule, "ingress") for rule in np_["spec"].get("ingress") or []]
        for rule in np_["spec"].get("egress") or []:
            for t in rule.get("to") or []:
                if "podSelector" in t and "namespaceSelector" not in t:
                    peer = r.pods_matching(t["podSelector"])
                    rep.check(bool(peer), where, "egress peer podSelector matches no pod template")
                    rules.append((peer, rule, "egress"))
        for pods, rule, way in rules:
            for port in [p.get("port") for p in rule.get("ports") or [] if isinstance(p.get("port"), str)]:
                rep.check(bool(pods) and all(any(cp.get("name") == port for _, cp in p.ports()) for p in pods),
                          where, f"{way} port {port!r} is not a named port of the pods it applies to")
    for ing in r.all("Ingress"):
        for rule in ing["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                ref = path["backend"]["service"]
                where = f"Ingress/{ing['metadata']['name']} {rule.get('host')}{path['path']}"
                svc = r.get("Service", ref["name"])
                if rep.check(svc is not None, where, f"Service {ref['name']!r} not in the render"):
                    port = ref["port"]
                    ok = any(p.get("name") == port["name"] if "name" in port else p["port"] == port.get("number")
                             for p in svc["spec"]["ports"])
                    rep.check(ok, where, f"Service {ref['name']} has no port {port}")


def check_all(docs: list, bins: Binaries, podman: bool = False) -> tuple[Rendered, Report]:
    r, rep = Rendered(docs), Report()
    check_services(r, rep)
    check_pods(r, rep, bins, podman)
    check_metrics(r, rep, bins)
    check_schemas(r, rep)
    check_references(r, rep)
    return r, rep


# --------------------------------------------------------------------------
# Self-test: each planted mistake must be caught by the tool that owns it
# --------------------------------------------------------------------------

MISTAKES = Path(__file__).parent / "k8s-planted-mistakes.yaml"
#: The owners that are this script (the file's other owners are checkov ids).
OURS = {"k8s_consistency", "k8s_consistency+binaries", "k8s_consistency+schema"}


def plant(base: list[dict], mistake: dict) -> list[dict]:
    """A copy of the render with one mistake of k8s-planted-mistakes.yaml in it."""
    docs = copy.deepcopy(base)
    kind, name = mistake["in"].split("/")
    node = next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)
    for step in mistake["at"].split("."):
        if isinstance(node, list):
            node = node[int(step)] if step.isdigit() else next(i for i in node if i.get("name") == step)
        else:
            node = node[step]
    if "drop" in mistake and isinstance(node, list):
        node.remove(next(i for i in node if i.get("name") == mistake["drop"]))
    elif "drop" in mistake:
        del node[mistake["drop"]]
    if "set" in mistake:
        node.update(mistake["set"])
    return docs


def run_checkov(checkov: list[str], renders: dict[int, list[dict]]) -> dict[int, set[str]]:
    """checkov's failed check ids for each render, from one run over all of
    them (its start-up costs the most)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {Path(tmp, f"render-{key}.yaml"): key for key in renders}
        for f, key in files.items():
            f.write_text(yaml.safe_dump_all(renders[key], sort_keys=False), encoding="utf-8")
        out = subprocess.run([*checkov, "--quiet", "--compact", "--output", "json",
                              *[a for f in files for a in ("--file", str(f))]], capture_output=True, text=True,
                             timeout=600)
    if not out.stdout.strip().startswith(("[", "{")):
        raise SystemExit(f"checkov gave no JSON (exit {out.returncode}): {out.stderr[-800:]}")
    reports = json.loads(out.stdout)
    failed: dict[int, set[str]] = {key: set() for key in renders}
    for report in reports if isinstance(reports, list) else [reports]:
        for f in (report.get("results") or {}).get("failed_checks") or []:
            name = Path(f.get("file_abs_path") or f["file_path"]).name
            failed[next(key for p, key in files.items() if p.name == name)].add(f["check_id"])
    return failed


def self_test(path: str, bins: Binaries, checkov: list[str]) -> int:
    with open(path, encoding="utf-8") as f:
        base = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    mistakes = yaml.safe_load(MISTAKES.read_text(encoding="utf-8"))
    _, rep = check_all(copy.deepcopy(base), bins)
    if rep.failures:
        print("self-test: the unmodified render already fails:", *rep.failures, sep="\n  ")
        return 1
    # checkov gets the unmodified render (key -1) and, for each mistake it
    # owns, the objects the mistake changed.
    renders = {i: [d for d, b in zip(plant(base, m), base) if d != b]
               for i, m in enumerate(mistakes) if m["by"] not in OURS}
    by_checkov = run_checkov(checkov, renders | {-1: base}) if checkov else {}
    if by_checkov.get(-1):
        print(f"self-test: checkov already fails the unmodified render: {sorted(by_checkov[-1])}")
        return 1
    missed = skipped = 0
    for i, m in enumerate(mistakes):
        what, owner = m["what"], m["by"]
        if owner.endswith("+binaries") and bins.bin_dir is None:
            skipped += 1
            print(f"  skipped {what}: needs --binaries")
            continue
        if owner in OURS:
            failures = check_all(plant(base, m), bins)[1].failures
            caught, detail = bool(failures), failures[:1]
        else:
            failed = by_checkov.get(i, set())
            caught, detail, owner = owner in failed, sorted(failed), f"checkov {owner}"
        missed += not caught
        print(f"  caught  {what}: by {owner}  ({', '.join(detail)})" if caught else
              f"  MISSED  {what}: {owner} did not fail it (it failed: {', '.join(detail) or 'nothing'})")
    bins.stop()
    for msg in bins.rep.failures:
        print(f"  FAIL {msg}")
    print(f"self-test: {len(mistakes) - missed - skipped}/{len(mistakes)} planted mistakes caught"
          + (f", {skipped} skipped without --binaries" if skipped else ""))
    return 1 if missed or bins.rep.failures else 0


# --------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binaries", type=Path, help="directory of the built binaries (e.g. target/debug)")
    ap.add_argument("--require-binaries", action="store_true", help="a binary missing from --binaries is a failure")
    ap.add_argument("--podman", action="append", default=[], metavar="NAME",
                    help="this entry point is for `podman kube play`")
    ap.add_argument("--self-test", metavar="RENDER", help="plant known mistakes in this render; each must be caught")
    ap.add_argument("--checkov", nargs=argparse.REMAINDER, default=[],
                    help="(self-test) the checkov command and its options; must be last")
    ap.add_argument("rendered", nargs="*", help="NAME=FILE: output of `kubectl kustomize` for one entry point")
    args = ap.parse_args()
    bins = Binaries(args.binaries, args.require_binaries)
    if args.binaries is None:
        bins.rep.notes.append("no --binaries: containerPorts and the paths the manifests name are not checked")
    if args.self_test:
        return self_test(args.self_test, bins, args.checkov)
    failed = 0
    for item in args.rendered:
        name, _, path = item.partition("=")
        with open(path, encoding="utf-8") as f:
            r, rep = check_all(list(yaml.safe_load_all(f)), bins, podman=name in args.podman)
        failed += len(rep.failures)
        status = "FAIL" if rep.failures else "ok"
        print(f"  {status:4} {name:40} {len(r.docs):3} objects, {len(r.pods):2} pod templates, "
              f"{rep.passed:3} checks passed, {len(rep.failures)} failed")
        for msg in rep.failures:
            print(f"       FAIL {msg}")
    started = sum(run is not None for run in bins.running.values())
    described = sum(d is not None for d in bins.described.values())
    bins.stop()
    failed += len(bins.rep.failures)
    print(f"  {'FAIL' if bins.rep.failures else 'ok':4} binaries ({args.binaries or 'none'}): {described} described, "
          f"{started} started, {len(bins.answers)} paths requested, {len(bins.rep.failures)} failed")
    for msg in bins.rep.failures:
        print(f"       FAIL {msg}")
    for msg in sorted(set(bins.rep.notes)):
        print(f"       note {msg}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
