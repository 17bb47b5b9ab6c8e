"""The integration suite against a 3-master Redis Cluster: the key design needs nothing else.

Every script call touches one shard, one hash slot (`{pulse:<family>:<partition>}`), so a
worker runs on a cluster unchanged; the exporter pipelines per node and unions HyperLogLogs
across slots through a temporary hash tag. A CROSSSLOT error anywhere would fail these runs:
the worker could not commit, the exporter would answer `pulse_up 0`.

The cluster: three redis-server processes in cluster mode on free ports, joined by
`redis-cli --cluster create ... --cluster-replicas 0` (Debian's redis-tools), used through a
`redis+cluster://` URL. The end-to-end tests of the families and of `pulse rebuild`, and the
golden scrape (test_scrape_golden.py: byte for byte the standalone text), run as they are,
with the cluster in place of their single Redis.
"""

from __future__ import annotations

import inspect
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metrics_core.events.model import FAMILIES
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import connect, namespace, shard_prefix
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import free_port
from tests.integration import (
    test_customer_end_to_end,
    test_email_end_to_end,
    test_rebuild,
    test_scrape_golden,
    test_social_end_to_end,
    test_survey_end_to_end,
    test_web_end_to_end,
)

pytestmark = pytest.mark.integration

REDIS_SERVER = Path("/usr/bin/redis-server")
REDIS_CLI = Path("/usr/bin/redis-cli")
MASTERS = 3


@dataclass
class Cluster:
    """Duck-types EmbeddedRedis where the tests use it: `.url` (and `.nodes` for inspection)."""

    nodes: list[EmbeddedRedis]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"


def _start_cluster(base: Path) -> Cluster:
    nodes = []
    for i in range(MASTERS):
        node = EmbeddedRedis(
            str(REDIS_SERVER),
            dir=base / f"node-{i}",
            extra_args=[
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(free_port()),  # the bus port: port + 10000 may not exist
                "--cluster-node-timeout", "5000",
            ],
        )  # fmt: skip
        nodes.append(node.start())
    addresses = [f"127.0.0.1:{n.port}" for n in nodes]
    create = subprocess.run(
        [str(REDIS_CLI), "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True,
        timeout=60,
    )
    assert create.returncode == 0, create.stdout.decode() + create.stderr.decode()
    deadline = time.monotonic() + 30
    while not all(_cluster_ok(n) for n in nodes):
        assert time.monotonic() < deadline, "the cluster did not reach cluster_state:ok"
        time.sleep(0.2)
    return Cluster(nodes)


def _cluster_ok(node: EmbeddedRedis) -> bool:
    out = subprocess.run(
        [str(REDIS_CLI), "-p", str(node.port), "cluster", "info"], capture_output=True, timeout=10
    ).stdout
    return b"cluster_state:ok" in out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not (REDIS_SERVER.exists() and REDIS_CLI.exists()):
        pytest.fail("Debian's redis-server and redis-cli are needed: run `make tools`", pytrace=False)
    started = _start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield started
    finally:
        for node in started.nodes:
            node.stop()


def _run(test: Callable[..., None], available: dict[str, Any]) -> None:
    """Call an end-to-end test with the fixtures it declares, the cluster as its Redis."""
    wanted = inspect.signature(test).parameters
    missing = [name for name in wanted if name not in available]
    assert not missing, f"{test.__name__} wants fixtures this module does not provide: {missing}"
    test(**{name: available[name] for name in wanted})


@pytest.fixture
def fixtures(
    kafka: EmbeddedKafka,
    cluster: Cluster,
    topic_prefix: str,
    tmp_path: Path,
    promtool: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    client = connect(cluster.url)
    yield {
        "kafka": kafka,
        "redis_server": cluster,
        "redis_client": client,
        "topic_prefix": topic_prefix,
        "tmp_path": tmp_path,
        "promtool": promtool,
        "monkeypatch": monkeypatch,
    }
    client.close()


END_TO_END = {
    "web": test_web_end_to_end.test_web_metrics_exact_through_kafka_redis_and_a_sigkill,
    "email": test_email_end_to_end.test_email_metrics_exact_through_kafka_and_redis,
    "survey": test_survey_end_to_end.test_survey_metrics_exact_through_kafka_redis_and_a_sigkill,
    "social": test_social_end_to_end.test_social_metrics_exact_through_kafka_redis_and_a_sigkill,
    "customer": test_customer_end_to_end.test_customer_metrics_exact_through_kafka_redis_and_a_sigkill,
    "rebuild": test_rebuild.test_rebuild_replays_to_identical_values,
    "scrape": test_scrape_golden.test_the_scrape_of_a_populated_redis_is_the_golden_text,
    "functions": test_scrape_golden.test_the_exporter_loads_its_functions_into_a_redis_that_lost_them,
}


@pytest.mark.parametrize("name", list(END_TO_END))
def test_end_to_end_on_a_redis_cluster(name: str, fixtures: dict[str, Any], cluster: Cluster) -> None:
    _run(END_TO_END[name], fixtures)
    logs = "\n".join(p.read_text(errors="replace") for p in fixtures["tmp_path"].glob("*.log"))
    assert "CROSSSLOT" not in logs


def test_one_deployments_shards_spread_over_every_master(cluster: Cluster) -> None:
    """Five families x 4 partitions: 20 hash tags, each a slot; together they reach every master."""
    client = connect(cluster.url)
    try:
        tags = [shard_prefix(namespace(""), ShardId(f, p)) for f in FAMILIES for p in range(4)]
        slots = {client.cluster_keyslot(tag) for tag in tags}
        owners = {client.get_node_from_key(tag).name for tag in tags}
        masters = {node.name for node in client.get_primaries()}
    finally:
        client.close()
    assert len(slots) == 20
    assert owners == masters
