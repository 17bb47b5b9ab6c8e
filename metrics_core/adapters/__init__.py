"""Vendor adapters: pure maps from a vendor's webhook payload onto native DESIGN §3 events.

Each keeps the vendor's own event id as `event_id`, so a vendor's retry de-duplicates.
"""

from metrics_core.adapters import delighted, segment, sendgrid, stripe
from metrics_core.adapters.base import Adapter, AdapterError, AdapterResult, Options

ADAPTERS: dict[str, Adapter] = {
    "sendgrid": sendgrid.adapt,
    "segment": segment.adapt,
    "stripe": stripe.adapt,
    "delighted": delighted.adapt,
}

__all__ = ["ADAPTERS", "Adapter", "AdapterError", "AdapterResult", "Options"]
