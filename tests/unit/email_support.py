"""What the email tests share: events at N - seconds, and a harness on the email topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metrics_core.batch import Applier, Limits
from metrics_core.families.email import EmailFamily
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import Window, retention_ms
from tests.unit.conftest import HOUR_S, NOW_S, SESSION_TIMEOUT_MS, WINDOWS, Harness, event

N = NOW_S
RETENTION_MS = 25 * HOUR_S * 1000  # 24 h + 1 h


def mail(kind: str, event_id: str, ago_s: int, message: str, campaign: str, **fields: Any) -> bytes:
    """An `email.<kind>` event at N - ago_s."""
    return event(f"email.{kind}", event_id, N - ago_s, message_id=message, campaign_id=campaign, **fields)


@dataclass
class MailHarness(Harness):
    """The conftest Harness, pointed at the email topic."""

    def email(self, name: str, window: str, prop: str = "default", **labels: str) -> float | None:
        """One sample, e.g. `email("sent", "5m")` or `email("campaign_sent", "5m", campaign="a")`."""
        return self.scrape().web(f"pulse_email_{name}", window, prop, **labels)


def mailer(label_cap: int = 500, windows: tuple[Window, ...] = WINDOWS) -> MailHarness:
    store = MemoryStore()
    limits = Limits(windows, retention_ms(windows), 72 * HOUR_S * 1000, SESSION_TIMEOUT_MS, label_cap)
    return MailHarness(
        store, Applier(store, EmailFamily(), limits), windows, label_cap, source="email@1|0", family="email"
    )
