#!/usr/bin/env python3
"""Tests of scripts/diagrams.py against small kustomizations it renders for real.

    python3 scripts/diagrams_test.py     (scripts/check-diagrams.sh runs it)

Needs kubectl (kustomize) and PyYAML, like the script itself.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import diagrams  # noqa: E402

SYSTEM = """
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {upstream: "http://back:8080/api", db: "db"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: example-only}
---
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  type: NodePort
  selector: {app: front}
  ports: [{port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: back}
spec:
  selector: {app: back}
  ports: [{port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front}
spec:
  replicas: 3
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec:
      containers:
        - name: web
          image: registry.example.com/x/web:1.2.3
          ports: [{containerPort: 8000, name: http}]
          env:
            - {name: BACKEND, valueFrom: {configMapKeyRef: {name: conf, key: upstream}}}
            - {name: CACHE_URL, value: "redis://localhost:6379"}
            - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
          volumeMounts: [{name: scratch, mountPath: /tmp}]
        - name: cache
          image: redis:7
          ports: [{containerPort: 6379}]
      volumes:
        - {name: scratch, emptyDir: {sizeLimit: 8Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: back}
spec:
  replicas: 2
  selector: {matchLabels: {app: back}}
  template:
    metadata: {labels: {app: back}}
    spec:
      containers:
        - name: api
          image: api:0.1.0
          envFrom: [{configMapRef: {name: conf}}]
          volumeMounts: [{name: store, mountPath: /var/lib/api, subPath: api}]
      volumes:
        - {name: store, persistentVolumeClaim: {claimName: data}}
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def kustomization(*resources: str, kind: str = "Kustomization") -> str:
    api = "v1alpha1" if kind == "Component" else "v1beta1"
    body = f"apiVersion: kustomize.config.k8s.io/{api}\nkind: {kind}\n"
    if resources:
        body += "resources:\n" + "".join(f"  - {r}\n" for r in resources)
    return body


class Tree(unittest.TestCase):
    """A k8s/ tree: one plain system, one with variants, components, overlays."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.k8s = Path(self.tmp.name)
        write(self.k8s / "kustomization.yaml", kustomization("shop"))
        write(self.k8s / "shop/kustomization.yaml", kustomization("all.yaml"))
        write(self.k8s / "shop/all.yaml", SYSTEM)
        for variant in ("tight", "loose"):
            write(self.k8s / f"ways/{variant}/kustomization.yaml", kustomization("all.yaml"))
            write(self.k8s / f"ways/{variant}/all.yaml", SYSTEM)
        # An aggregate of the variants does not make them one system.
        write(self.k8s / "ways/kustomization.yaml", kustomization("tight", "loose"))
        write(self.k8s / "components/hpa/kustomization.yaml", kustomization(kind="Component"))
        write(self.k8s / "overlays/everything/kustomization.yaml", kustomization("../../shop"))

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def test_finds_systems_and_variants_but_not_components_or_overlays(self) -> None:
        self.assertEqual(
            diagrams.systems(self.k8s),
            {"shop": ["shop"], "ways": ["ways/tight", "ways/loose"]},
        )

    def test_draws_workloads_services_urls_config_and_volumes(self) -> None:
        d = diagrams.diagram("shop", ["shop"], self.k8s)
        self.assertTrue(d.startswith("flowchart LR\n"))
        # workloads with replicas, containers with short image names and ports
        self.assertIn('subgraph w_front ["Deployment front × 3"]', d)
        self.assertIn('c_front_web["web<br/>image web<br/>:8000 http"]', d)
        # Services: ports, nodePort, selector edges, the way in from outside
        self.assertIn('s_front{{"Service front<br/>NodePort<br/>80 → http (node 30080)"}}', d)
        self.assertIn("s_front --> w_front", d)
        self.assertIn("s_back --> w_back", d)
        self.assertIn('outside -- ":30080" --> s_front', d)
        self.assertNotIn("outside -- \":8080\"", d)
        # env URLs: from a ConfigMap key, from envFrom, and localhost in the pod
        self.assertIn('c_front_web -- "BACKEND" --> s_back', d)
        self.assertIn('c_back_api -- "upstream" --> s_back', d)
        self.assertIn('c_front_web -- "CACHE_URL localhost:6379" --> c_front_cache', d)
        # configuration and storage
        self.assertIn("cm_conf -.-> c_front_web", d)
        self.assertIn("sec_creds -.-> c_front_web", d)
        self.assertIn("cm_conf -.-> c_back_api", d)
        self.assertEqual(d.count('pvc_data[("PVC data<br/>1Gi ReadWriteOnce")]'), 1)
        self.assertIn('pvc_data -. "/var/lib/api (api)" .- c_back_api', d)
        self.assertIn('v_front_scratch[("emptyDir scratch<br/>limit 8Mi")]', d)
        self.assertIn("class s_back,s_front svc", d)
        # "db" is no Service here: no arrow is invented for it
        self.assertNotIn("s_db", d)

    def test_variants_side_by_side_with_distinct_ids(self) -> None:
        d = diagrams.diagram("ways", ["ways/loose", "ways/tight"], self.k8s)
        self.assertIn('subgraph variant_loose ["loose"]', d)
        self.assertIn('subgraph variant_tight ["tight"]', d)
        self.assertIn("loose_s_front --> loose_w_front", d)
        self.assertIn("tight_s_front --> tight_w_front", d)


class Urls(unittest.TestCase):
    def test_hosts_of_urls_and_host_port_values(self) -> None:
        cases = {
            "relay-svc/relay.php": ("relay-svc", None),
            "http://sink-svc:8080/sink.php": ("sink-svc", 8080),
            "mongodb://localhost:27017": ("localhost", 27017),
            "postgres://postgres:example@db/postgres": ("db", None),
            "backend.shop.svc.cluster.local:80": ("backend", 80),
            "mysql": ("mysql", None),
        }
        for value, want in cases.items():
            with self.subTest(value=value):
                self.assertEqual(diagrams.url_target(value), want)

    def test_values_that_are_not_addresses(self) -> None:
        for value in ("a b", "", "http://"):
            with self.subTest(value=value):
                self.assertIsNone(diagrams.url_target(value))


class Blocks(unittest.TestCase):
    def test_redraws_a_stale_block_and_leaves_the_rest(self) -> None:
        text = "intro\n<!-- diagram shop -->\nold\n<!-- end diagram shop -->\noutro\n"
        new, missing = diagrams.replace_blocks(text, {"shop": "flowchart LR\n  a --> b\n"})
        self.assertEqual(missing, [])
        self.assertTrue(new.startswith("intro\n<!-- diagram shop -->\n"))
        self.assertIn("```mermaid\nflowchart LR\n  a --> b\n```\n<!-- end diagram shop -->\noutro\n", new)
        self.assertNotIn("old", new)
        # drawing again changes nothing
        self.assertEqual(diagrams.replace_blocks(new, {"shop": "flowchart LR\n  a --> b\n"})[0], new)

    def test_a_system_without_a_block_and_a_block_without_a_system(self) -> None:
        text = "<!-- diagram gone -->\nx\n<!-- end diagram gone -->\n"
        _, missing = diagrams.replace_blocks(text, {"shop": "flowchart LR\n"})
        self.assertEqual(missing, ["shop"])
        self.assertEqual(diagrams.unknown_blocks(text, {"shop"}), ["gone"])


if __name__ == "__main__":
    unittest.main()
