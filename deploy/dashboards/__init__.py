"""Pulse's Grafana dashboards as code: an overview, one per metric family, and the pipeline.

`python -m deploy.build` writes them to deploy/grafana/dashboards/*.json. Every query reads a
metric of the exporter (docs/metrics.md) or a recording rule (deploy/prometheus/rules); the
tests check that each one parses and names a metric that exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deploy.dashboards.customer import customer
from deploy.dashboards.email import email
from deploy.dashboards.overview import overview
from deploy.dashboards.pipeline import pipeline
from deploy.dashboards.social import social
from deploy.dashboards.survey import survey
from deploy.dashboards.web import web

DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "overview": overview,
    "web": web,
    "email": email,
    "social": social,
    "survey": survey,
    "customer": customer,
    "pipeline": pipeline,
}
