"""Every manifest under deploy/ is valid against the Kubernetes schemas (kubernetes-validate, which
bundles them: offline), and the Ray Serve configurations agree with each other."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from bench.common import haproxy_env

ROOT = Path(__file__).resolve().parents[1]
VERSION = "1.37.0"
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", [p for p in MANIFESTS if p.name != "kustomization.yaml"], ids=lambda p: p.name)
def test_each_manifest_is_valid_against_the_kubernetes_schemas(path):
    for document in documents(path):
        assert kubernetes_validate.validate(document, VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest():
    [deployment] = documents(ROOT / "deploy" / "kubernetes" / "deployment.yaml")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = [8000]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, VERSION, strict=True)


def test_the_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((ROOT / "deploy" / "kubernetes" / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"kustomization.yaml"}


def test_the_deployment_probes_the_health_routes_and_threads_follow_the_cpu_limit():
    [deployment] = documents(ROOT / "deploy" / "kubernetes" / "deployment.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    threads = next(e for e in container["env"] if e["name"] == "ATTNSERVE_TORCH_THREADS")
    assert threads["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"


def test_the_rayservice_pods_are_valid_pods_and_its_serve_config_is_the_files():
    [service] = documents(ROOT / "deploy" / "kuberay" / "rayservice.yaml")
    assert (service["apiVersion"], service["kind"]) == ("ray.io/v1", "RayService")
    cluster = service["spec"]["rayClusterConfig"]
    templates = [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]
    for template in templates:  # the CRD embeds core PodTemplateSpecs: checked as Pods
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"}, "spec": template["spec"]}
        assert kubernetes_validate.validate(pod, VERSION, strict=True)
    [pin] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ray"]
    assert cluster["rayVersion"] == pin.split("==")[1]  # the cluster runs the Ray the extra pins
    served = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
    assert served == yaml.safe_load((ROOT / "deploy" / "ray" / "serve.yaml").read_text())["applications"]
    ingress = haproxy_env()
    for template in templates:  # every node runs the ingress `make serve-ray` runs
        env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
        assert {name: env.get(name) for name in ingress} == ingress
