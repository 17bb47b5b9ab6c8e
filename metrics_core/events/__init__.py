"""Events: the wire schema of DESIGN §3, its validation, and the decoded `Event`."""

from metrics_core.events.decode import decode, decode_json
from metrics_core.events.model import FAMILIES, Event, Reason, Rejection
from metrics_core.events.schema import TYPES

__all__ = ["FAMILIES", "TYPES", "Event", "Reason", "Rejection", "decode", "decode_json"]
