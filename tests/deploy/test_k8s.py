"""Kubernetes manifests (kustomize base): structure, selectors, probes on real health endpoints,
replicas within the partitions, settings that exist, and the PrometheusRule from the rule files.

No kustomize or API server here: the checks read the YAML as the API server would see it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.rules import load_groups, prometheus_rule
from metrics_core.settings import Settings
from tests.deploy.test_compose import pulse_command_ok

BASE = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"
HEALTH_PATHS = {"worker": {"/healthz"}, "exporter": {"/healthz", "/livez"}}


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return loaded


def documents() -> list[dict[str, Any]]:
    return [
        doc
        for resource in kustomization()["resources"]
        for doc in yaml.safe_load_all((BASE / resource).read_text())
        if doc is not None
    ]


def one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def settings_map() -> dict[str, str]:
    data: dict[str, str] = one("ConfigMap", "pulse-settings")["data"]
    return {**data, **one("Secret", "pulse-secrets")["stringData"]}


def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    resources = kustomization()["resources"]
    assert all((BASE / r).exists() for r in resources)
    assert sorted(resources) == sorted(p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")


def test_every_document_has_api_version_kind_and_name() -> None:
    kinds = set()
    for doc in documents():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc
        kinds.add(doc["kind"])
    expected = {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceMonitor",
        "PrometheusRule",
        "ScaledObject",
    }
    assert expected <= kinds


@pytest.mark.parametrize("component", ["worker", "exporter"])
def test_deployment_selects_its_pods_runs_pulse_and_probes_real_endpoints(component: str) -> None:
    deployment = one("Deployment", f"pulse-{component}")
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    (container,) = spec["template"]["spec"]["containers"]
    pulse_command_ok(container["command"])
    assert container["command"][1] == component
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probes = {k: v for k, v in container.items() if k.endswith("Probe")}
    assert "livenessProbe" in probes
    for kind, probe in probes.items():
        get = probe["httpGet"]
        assert get["path"] in HEALTH_PATHS[component], f"{component} {kind}: {get['path']}"
        assert get["port"] in ports or get["port"] in ports.values(), f"{component} {kind}: undeclared port"
    refs = {
        ref["configMapRef"]["name"] if "configMapRef" in ref else ref["secretRef"]["name"]
        for ref in container["envFrom"]
    }
    assert refs == {"pulse-settings", "pulse-secrets"}


def test_worker_probes_progress_on_the_health_port_the_settings_give() -> None:
    (container,) = one("Deployment", "pulse-worker")["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == int(settings_map()["PULSE_WORKER_HEALTH_PORT"])
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    (exporter,) = one("Deployment", "pulse-exporter")["spec"]["template"]["spec"]["containers"]
    assert exporter["ports"][0]["containerPort"] == int(settings_map()["PULSE_EXPORTER_PORT"])
    assert exporter["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_workers_never_outnumber_partitions() -> None:
    partitions = int(settings_map()["PULSE_PARTITIONS"])
    assert 1 <= one("Deployment", "pulse-worker")["spec"]["replicas"] <= partitions
    scaled = one("ScaledObject", "pulse-worker")["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "pulse-worker"}
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= partitions
    (trigger,) = scaled["triggers"]
    assert "pulse_consumer_lag" in trigger["metadata"]["query"]


def test_settings_are_real_settings() -> None:
    fields = {f"PULSE_{name.upper()}" for name in Settings.model_fields}
    assert set(settings_map()) <= fields
    assert {"PULSE_KAFKA_URL", "PULSE_REDIS_URL", "PULSE_PARTITIONS"} <= set(settings_map())
    Settings.model_validate({k.removeprefix("PULSE_").lower(): v for k, v in settings_map().items()})


def test_service_and_service_monitor_reach_the_exporter_as_job_pulse() -> None:
    service = one("Service", "pulse-exporter")
    pod_labels = one("Deployment", "pulse-exporter")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (container,) = one("Deployment", "pulse-exporter")["spec"]["template"]["spec"]["containers"]
    port_names = {p["name"] for p in container["ports"]}
    assert all(p["targetPort"] in port_names for p in service["spec"]["ports"])
    monitor = one("ServiceMonitor", "pulse-exporter")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert {"targetLabel": "job", "replacement": "pulse"} in endpoint["relabelings"]
    assert one("Deployment", "pulse-exporter")["spec"]["replicas"] == 1  # the recording rules sum series


def test_prometheus_rule_holds_the_rule_files() -> None:
    assert one("PrometheusRule", "pulse") == prometheus_rule(load_groups())
