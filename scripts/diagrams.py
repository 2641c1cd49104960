#!/usr/bin/env python3
"""Draw each system's Kubernetes objects as a Mermaid diagram, from the manifests.

    scripts/diagrams.py --print message-chain   # print one system's diagram
    scripts/diagrams.py --write                 # redraw every diagram in the READMEs
    scripts/diagrams.py --check                 # fail if a committed diagram is stale
    scripts/diagrams.py --list                  # the systems it found

A diagram is drawn from what `kubectl kustomize k8s/<system>` renders, never
from prose, so it cannot drift from the manifests: `--check` (run by
scripts/check-diagrams.sh, part of scripts/test.sh) fails when a committed
diagram differs from what the current manifests draw.

What a diagram shows:
  * every workload (Deployment, StatefulSet, DaemonSet, Pod) as a box with its
    replica count, holding one node per container (image, ports);
  * every Service with `port -> targetPort` and its nodePort, an arrow to the
    workloads its selector picks, and an arrow from "outside" for a NodePort;
  * every env var whose value (literal or from a ConfigMap key) names a
    Service as a host or URL, as an arrow from the container to the Service,
    and `localhost:<port>` URLs as arrows to the container of the same pod
    that declares that port (containers of one pod share one network);
  * ConfigMaps and Secrets, with a dotted arrow to each container that reads
    them (env, envFrom or a volume);
  * volumes (emptyDir, PersistentVolumeClaim, hostPath, ...) with a link to
    each container that mounts them, labelled with the mount path.

Where the diagrams go: README.md and k8s/README.md hold, for every system,
a block between `<!-- diagram <system> -->` and `<!-- end diagram <system> -->`.
`--write` replaces the block's content; a system without a block in both files
is an error, so a new system cannot be left out.

Systems are the directories that k8s/kustomization.yaml lists as resources,
plus every other directory of k8s/ whose subdirectories are kustomizations:
those are one system deployed several ways (variants, such as
k8s/app-coupling), drawn side by side in one diagram. k8s/overlays is not a system: overlays only
combine the systems.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("diagrams.py needs PyYAML (scripts/check-diagrams.sh installs it into a venv)")

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "k8s"
DOCS = [REPO / "README.md", REPO / "k8s" / "README.md"]
NOT_SYSTEMS = {"overlays"}  # overlays combine systems; they are not one
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Pod")

BEGIN = "<!-- diagram {name} -->"
END = "<!-- end diagram {name} -->"
NOTE = (
    "<!-- drawn by scripts/diagrams.py from `kubectl kustomize k8s/{name}`; "
    "edit the manifests and run `scripts/diagrams.py --write`, not this block -->"
)


# --------------------------------------------------------------------------
# Finding and rendering systems
# --------------------------------------------------------------------------


def kustomization(d: Path) -> Path | None:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (d / name).is_file():
            return d / name
    return None


def renders_objects(d: Path) -> bool:
    """A kustomization of its own (a Component only patches others: k8s/components)."""
    k = kustomization(d)
    if k is None:
        return False
    doc = yaml.safe_load(k.read_text()) or {}
    return doc.get("kind", "Kustomization") == "Kustomization"


def systems(k8s: Path = K8S) -> dict[str, list[str]]:
    """System name -> its variants (paths relative to k8s/), in a stable order."""
    found: dict[str, list[str]] = {}
    top = kustomization(k8s)
    if top is not None:
        doc = yaml.safe_load(top.read_text()) or {}
        for res in doc.get("resources", []) or []:
            d = k8s / res
            if d.is_dir() and kustomization(d) is not None:
                found[res.strip("/")] = [res.strip("/")]
    for d in sorted(p for p in k8s.iterdir() if p.is_dir()):
        if d.name in found or d.name in NOT_SYSTEMS:
            continue
        variants = sorted(v.name for v in d.iterdir() if v.is_dir() and renders_objects(v))
        # In the order the directory's own kustomization lists them, if it
        # does (tight to loose, say), else by name.
        own = kustomization(d)
        listed = [str(r).strip("/") for r in ((yaml.safe_load(own.read_text()) or {}).get("resources") or [])] if own else []
        variants = [v for v in listed if v in variants] + [v for v in variants if v not in listed]
        variants = [f"{d.name}/{v}" for v in variants]
        if variants:
            found[d.name] = variants
    return found


def render(path: str, k8s: Path = K8S) -> list[dict]:
    try:
        out = subprocess.run(
            ["kubectl", "kustomize", str(k8s / path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except FileNotFoundError:
        sys.exit("diagrams.py needs kubectl (its built-in kustomize renders the manifests)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"kubectl kustomize k8s/{path} failed:\n{e.stderr}")
    return [d for d in yaml.safe_load_all(out) if d]


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------


def ident(*parts: str) -> str:
    """A Mermaid node id: letters, digits and underscores only."""
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts if p)


def label(*lines: str) -> str:
    text = "<br/>".join(line for line in lines if line)
    return '"' + text.replace('"', "#quot;") + '"'


def short_image(image: str) -> str:
    """`registry/path/name:tag` -> `name`: the tag changes with every build."""
    name = image.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].split(":", 1)[0]


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj.get("spec", {})
    return obj.get("spec", {}).get("template", {}).get("spec", {})


def pod_labels(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj.get("metadata", {}).get("labels", {}) or {}
    return obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}) or {}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# Colours by role, so the eye finds the Services, the configuration and the
# storage at once (GitHub renders classDef in Markdown Mermaid blocks).
CLASSES = {
    "svc": "fill:#e3f2fd,stroke:#1565c0",
    "cfg": "fill:#fff8e1,stroke:#f9a825",
    "vol": "fill:#e8f5e9,stroke:#2e7d32",
    "ext": "fill:#f3e5f5,stroke:#6a1b9a",
}


@dataclass
class Graph:
    lines: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)
    # Volume nodes already drawn: a claim two workloads share is one node.
    drawn: set[str] = field(default_factory=set)

    def add(self, line: str, indent: int = 1, cls: str | None = None) -> None:
        self.lines.append("  " * indent + line)
        if cls is not None:
            node = re.match(r"\w+", line)
            if node:
                self.classes.setdefault(cls, []).append(node.group(0))

    def edge(self, line: str) -> None:
        if line not in self.edges:
            self.edges.append(line)


def env_values(container: dict, configmaps: dict[str, dict]) -> list[tuple[str, str]]:
    """(env name, value) pairs, with ConfigMap keys resolved to their values."""
    pairs = []
    for env in container.get("env", []) or []:
        if "value" in env:
            pairs.append((env["name"], str(env["value"])))
            continue
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
        if ref and ref.get("name") in configmaps:
            value = (configmaps[ref["name"]].get("data") or {}).get(ref.get("key"))
            if value is not None:
                pairs.append((env["name"], str(value)))
    for src in container.get("envFrom", []) or []:
        ref = src.get("configMapRef")
        if ref and ref.get("name") in configmaps:
            prefix = src.get("prefix", "")
            for k, v in sorted((configmaps[ref["name"]].get("data") or {}).items()):
                pairs.append((prefix + k, str(v)))
    return pairs


# A host as it appears in a URL or a host[:port] value: after `//` or at the
# start, up to `:`, `/` or the end. `svc.namespace.svc.cluster.local` counts
# as `svc`.
HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([A-Za-z0-9.-]+)(?::(\d+))?(?:/.*)?$")


def url_target(value: str) -> tuple[str, int | None] | None:
    m = HOST.match(value.strip())
    if not m:
        return None
    host = m.group(1).split(".", 1)[0]
    return host, int(m.group(2)) if m.group(2) else None


def draw_variant(g: Graph, objs: list[dict], prefix: str, indent: int) -> None:
    by_kind: dict[str, list[dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    configmaps = {o["metadata"]["name"]: o for o in by_kind.get("ConfigMap", [])}
    secrets = {o["metadata"]["name"]: o for o in by_kind.get("Secret", [])}
    services = {o["metadata"]["name"]: o for o in by_kind.get("Service", [])}
    pvcs = {o["metadata"]["name"]: o for o in by_kind.get("PersistentVolumeClaim", [])}
    workloads = [o for k in WORKLOAD_KINDS for o in by_kind.get(k, [])]
    outside = ident(prefix, "outside")

    # Workloads and their containers.
    for w in workloads:
        name = w["metadata"]["name"]
        spec = pod_spec(w)
        replicas = "" if w["kind"] == "Pod" else f" × {w.get('spec', {}).get('replicas', 1)}"
        wid = ident(prefix, "w", name)
        title = label(f"{w['kind']} {name}{replicas}")
        g.add(f"subgraph {wid} [{title}]", indent)
        g.add("direction TB", indent + 1)
        for c in spec.get("containers", []) or []:
            ports = ", ".join(
                f":{p['containerPort']}" + (f" {p['name']}" if p.get("name") else "")
                for p in c.get("ports", []) or []
            )
            cid = ident(prefix, "c", name, c["name"])
            text = label(c["name"], "image " + short_image(c.get("image", "?")), ports)
            g.add(f"{cid}[{text}]", indent + 1)
        g.add("end", indent)

    # Services, and who they send traffic to.
    for s in services.values():
        name = s["metadata"]["name"]
        spec = s.get("spec", {})
        ports = []
        for p in spec.get("ports", []) or []:
            text = f"{p.get('port')} → {p.get('targetPort', p.get('port'))}"
            if p.get("nodePort"):
                text += f" (node {p['nodePort']})"
            ports.append(text)
        kind = spec.get("type", "ClusterIP")
        if spec.get("clusterIP") == "None":
            kind = "headless"
        sid = ident(prefix, "s", name)
        text = label(f"Service {name}", kind, *ports)
        g.add(f"{sid}{{{{{text}}}}}", indent, "svc")
        for w in workloads:
            if selects(spec.get("selector") or {}, pod_labels(w)):
                g.edge(f"{sid} --> {ident(prefix, 'w', w['metadata']['name'])}")
        node_ports = [str(p["nodePort"]) for p in spec.get("ports", []) or [] if p.get("nodePort")]
        if node_ports:
            g.edge(f"{outside} -- {label(' '.join(':' + n for n in node_ports))} --> {sid}")
    if any(e.startswith(outside + " ") for e in g.edges):
        g.add(f"{outside}(({label('outside the cluster')}))", indent, "ext")

    # ConfigMaps, Secrets and volumes.
    for name in configmaps:
        text = label(f"ConfigMap {name}")
        g.add(f"{ident(prefix, 'cm', name)}[/{text}/]", indent, "cfg")
    for name in secrets:
        text = label(f"Secret {name}")
        g.add(f"{ident(prefix, 'sec', name)}[/{text}/]", indent, "cfg")
    for w in workloads:
        wname = w["metadata"]["name"]
        spec = pod_spec(w)
        volumes = {v["name"]: v for v in spec.get("volumes", []) or []}
        containers = spec.get("containers", []) or []
        port_owner = {
            int(p["containerPort"]): c["name"] for c in containers for p in c.get("ports", []) or []
        }
        for c in containers:
            cid = ident(prefix, "c", wname, c["name"])
            # Env vars that point somewhere.
            for env_name, value in env_values(c, configmaps):
                target = url_target(value)
                if target is None:
                    continue
                host, port = target
                if host in services:
                    g.edge(f"{cid} -- {label(env_name)} --> {ident(prefix, 's', host)}")
                elif host == "localhost" and port in port_owner and port_owner[port] != c["name"]:
                    other = ident(prefix, "c", wname, port_owner[port])
                    text = label(f"{env_name} localhost:{port}")
                    g.edge(f"{cid} -- {text} --> {other}")
            # Where configuration comes from.
            for env in c.get("env", []) or []:
                ref = env.get("valueFrom") or {}
                if "configMapKeyRef" in ref and ref["configMapKeyRef"].get("name") in configmaps:
                    g.edge(f"{ident(prefix, 'cm', ref['configMapKeyRef']['name'])} -.-> {cid}")
                if "secretKeyRef" in ref and ref["secretKeyRef"].get("name") in secrets:
                    g.edge(f"{ident(prefix, 'sec', ref['secretKeyRef']['name'])} -.-> {cid}")
            for src in c.get("envFrom", []) or []:
                if (src.get("configMapRef") or {}).get("name") in configmaps:
                    g.edge(f"{ident(prefix, 'cm', src['configMapRef']['name'])} -.-> {cid}")
                if (src.get("secretRef") or {}).get("name") in secrets:
                    g.edge(f"{ident(prefix, 'sec', src['secretRef']['name'])} -.-> {cid}")
            # Volumes.
            for m in c.get("volumeMounts", []) or []:
                v = volumes.get(m["name"])
                if v is None:
                    continue
                vid = volume_node(g, v, prefix, wname, pvcs, configmaps, secrets, indent, g.drawn)
                path = m["mountPath"] + (f" ({m['subPath']})" if m.get("subPath") else "")
                if m.get("readOnly"):
                    path += " ro"
                g.edge(f"{vid} -. {label(path)} .- {cid}")


def volume_node(g, v, prefix, wname, pvcs, configmaps, secrets, indent, drawn) -> str:
    """The node a volume is drawn as (a ConfigMap/Secret volume is that object)."""
    if "configMap" in v and v["configMap"].get("name") in configmaps:
        return ident(prefix, "cm", v["configMap"]["name"])
    if "secret" in v and v["secret"].get("secretName") in secrets:
        return ident(prefix, "sec", v["secret"]["secretName"])
    if "persistentVolumeClaim" in v:
        claim = v["persistentVolumeClaim"].get("claimName", "?")
        vid = ident(prefix, "pvc", claim)
        if vid not in drawn:
            pvc = pvcs.get(claim, {}).get("spec", {})
            size = ((pvc.get("resources") or {}).get("requests") or {}).get("storage", "")
            modes = ", ".join(pvc.get("accessModes", []) or [])
            text = label(f"PVC {claim}", " ".join(x for x in (size, modes) if x))
            g.add(f"{vid}[({text})]", indent, "vol")
            drawn.add(vid)
        return vid
    kind = next((k for k in v if k != "name"), "volume")
    detail = ""
    if kind == "hostPath":
        detail = v["hostPath"].get("path", "")
    elif kind == "emptyDir" and (v.get("emptyDir") or {}).get("sizeLimit"):
        detail = f"limit {v['emptyDir']['sizeLimit']}"
    vid = ident(prefix, "v", wname, v["name"])
    if vid not in drawn:
        text = label(f"{kind} {v['name']}", detail)
        g.add(f"{vid}[({text})]", indent, "vol")
        drawn.add(vid)
    return vid


def diagram(name: str, variants: list[str], k8s: Path = K8S) -> str:
    g = Graph()
    if len(variants) == 1:
        g.lines.append("flowchart LR")
        draw_variant(g, render(variants[0], k8s), "", 1)
    else:
        # Variants side by side: unconnected subgraphs of a top-to-bottom
        # chart sit in one row, and Mermaid's layout puts the last declared
        # on the left, hence the reversed order (so they read tight to
        # loose, left to right).
        g.lines.append("flowchart TB")
        for v in reversed(variants):
            vname = v.split("/", 1)[1]
            g.add(f"subgraph {ident('variant', vname)} [{label(vname)}]")
            g.add("direction TB", 2)
            draw_variant(g, render(v, k8s), vname, 2)
            g.add("end")
    styles = [f"  classDef {c} {CLASSES[c]}" for c in CLASSES if c in g.classes]
    styles += [f"  class {','.join(ids)} {c}" for c, ids in g.classes.items()]
    return "\n".join(g.lines + ["  " + e for e in g.edges] + styles) + "\n"


def block(name: str, mermaid: str) -> str:
    return "\n".join([BEGIN.format(name=name), NOTE.format(name=name), "```mermaid", mermaid.rstrip("\n"), "```", END.format(name=name)])


# --------------------------------------------------------------------------
# README blocks
# --------------------------------------------------------------------------


def replace_blocks(text: str, drawn: dict[str, str]) -> tuple[str, list[str]]:
    """Text with every system's block redrawn, and the systems it has no block for."""
    missing = []
    for name, mermaid in drawn.items():
        pattern = re.compile(re.escape(BEGIN.format(name=name)) + r".*?" + re.escape(END.format(name=name)), re.S)
        if not pattern.search(text):
            missing.append(name)
            continue
        text = pattern.sub(lambda _m: block(name, mermaid), text)
    return text, missing


def unknown_blocks(text: str, names: set[str]) -> list[str]:
    return sorted({m for m in re.findall(r"<!-- diagram ([\w-]+) -->", text) if m not in names})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="redraw the blocks in README.md and k8s/README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if a committed diagram is stale or missing")
    mode.add_argument("--print", metavar="SYSTEM", help="print one system's Mermaid diagram")
    mode.add_argument("--list", action="store_true", help="list the systems and their variants")
    args = ap.parse_args(argv)

    found = systems()
    if args.list:
        for name, variants in found.items():
            print(name if variants == [name] else f"{name}: {' '.join(v.split('/', 1)[1] for v in variants)}")
        return 0
    if args.print:
        if args.print not in found:
            print(f"no system {args.print!r}; known: {', '.join(found)}", file=sys.stderr)
            return 2
        sys.stdout.write(diagram(args.print, found[args.print]))
        return 0

    drawn = {name: diagram(name, variants) for name, variants in found.items()}
    status = 0
    for doc in DOCS:
        rel = doc.relative_to(REPO)
        old = doc.read_text()
        new, missing = replace_blocks(old, drawn)
        for name in missing:
            print(f"{rel}: no block for system {name!r}: add the lines "
                  f"'{BEGIN.format(name=name)}' and '{END.format(name=name)}' where it belongs", file=sys.stderr)
            status = 1
        for name in unknown_blocks(old, set(found)):
            print(f"{rel}: block for {name!r}, which is no system under k8s/", file=sys.stderr)
            status = 1
        if new == old:
            continue
        if args.write:
            doc.write_text(new)
            print(f"redrew the diagrams in {rel}")
        else:
            sys.stderr.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), f"{rel} (committed)", f"{rel} (from the manifests)"))
            print(f"{rel}: diagrams differ from the manifests: run scripts/diagrams.py --write", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
