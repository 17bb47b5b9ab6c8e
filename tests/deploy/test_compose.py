"""docker-compose.yml: valid against the Compose Specification's JSON schema, in step with the
`pulse` CLI and the settings, healthy dependency order, and .env.example documenting it all."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from metrics_core.settings import Settings
from streams import cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
ENV_EXAMPLE = ROOT / ".env.example"
PULSE_SERVICES = ("topics", "worker", "exporter", "gateway", "simulator")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def pulse_command_ok(command: list[str]) -> None:
    """`command` is `pulse <subcommand> [args]` that the real CLI parser accepts."""
    assert command[0] == "pulse", command
    args = [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", arg) for arg in command[1:]]  # compose defaults
    try:
        cli._parser().parse_args(args)  # parsing only: nothing runs
    except SystemExit as exc:
        pytest.fail(f"`{' '.join(command)}` is not a valid pulse command (exit {exc.code})")


def test_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)  # the draft its $schema names
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes() -> None:
    """The vendored schema is strict enough to matter: an unknown key or a bad type fails."""
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)  # the draft its $schema names
    assert not validator.is_valid({"services": {"x": {"image": "a", "helthcheck": {}}}})
    assert not validator.is_valid({"services": {"x": {"image": "a", "ports": "9090"}}})
    assert validator.is_valid({"services": {"x": {"image": "a"}}})


@pytest.mark.parametrize("service", PULSE_SERVICES)
def test_every_command_is_a_real_pulse_subcommand(service: str) -> None:
    pulse_command_ok(compose()["services"][service]["command"])


def test_every_pulse_variable_is_a_setting() -> None:
    fields = {f"PULSE_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose()["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("PULSE_"):
                assert variable in fields, f"{name}: {variable} is no setting of metrics_core/settings.py"


def test_env_example_documents_every_setting_and_variable() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    settings = {f"PULSE_{name.upper()}" for name in Settings.model_fields}
    assert settings - documented == set(), "settings missing from .env.example"
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    assert used - documented == set(), "docker-compose.yml variables missing from .env.example"


def test_kafka_runs_kraft_with_a_listener_for_the_network_and_one_for_the_host() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    advertised = dict(item.split("://") for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["INTERNAL"] == "kafka:9092" and advertised["EXTERNAL"].startswith("localhost:")
    environment = compose()["services"]["worker"]["environment"]
    assert environment["PULSE_KAFKA_URL"] == "kafka://kafka:9092"


def test_redis_keeps_an_append_only_file() -> None:
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_dependencies_wait_for_health_and_exist() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health"
    for name in ("kafka", "redis", "worker", "exporter", "gateway", "prometheus", "alertmanager", "grafana"):
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_two_workers_at_most_as_many_as_partitions() -> None:
    worker = compose()["services"]["worker"]
    replicas = worker["deploy"]["replicas"]
    partitions = int(re.sub(r"\$\{\w+:-(\d+)\}", r"\1", str(worker["environment"]["PULSE_PARTITIONS"])))
    assert replicas == 2 and replicas <= partitions


def test_health_checks_use_the_real_endpoints() -> None:
    services = compose()["services"]
    assert "127.0.0.1:9641/healthz" in " ".join(services["worker"]["healthcheck"]["test"])
    assert "127.0.0.1:9640/healthz" in " ".join(services["exporter"]["healthcheck"]["test"])


def test_mounted_files_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
    prometheus = compose()["services"]["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
