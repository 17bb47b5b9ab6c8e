"""Each family's logic (events -> changes) and exposition (store -> gauges), by topic family."""

from __future__ import annotations

from collections.abc import Mapping

from metrics_core.exposition import customer as customer_gauges
from metrics_core.exposition import email as email_gauges
from metrics_core.exposition import social as social_gauges
from metrics_core.exposition import survey as survey_gauges
from metrics_core.exposition import web as web_gauges
from metrics_core.exposition.views import Exposition
from metrics_core.families.base import Family
from metrics_core.families.customer import CustomerFamily
from metrics_core.families.email import EmailFamily
from metrics_core.families.social import SocialFamily
from metrics_core.families.survey import SurveyFamily
from metrics_core.families.web import WebFamily

LOGIC: Mapping[str, type[Family]] = {
    "clickstream": WebFamily,
    "email": EmailFamily,
    "social": SocialFamily,
    "survey": SurveyFamily,
    "customer": CustomerFamily,
}

EXPOSITIONS: Mapping[str, Exposition] = {
    "clickstream": web_gauges,
    "email": email_gauges,
    "social": social_gauges,
    "survey": survey_gauges,
    "customer": customer_gauges,
}


def family_logic(name: str) -> Family:
    return LOGIC[name]()
