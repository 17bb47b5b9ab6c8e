"""The expected values, computed independently: plain Python over the distinct events.

Written from the definitions in DESIGN §4-5 and docs/ (metrics.md, families/*.md), not from
metrics_core: sessions split by 30 minutes of inactivity (one per `session_id`), anchored
to their first page view; e-mail counts anchored to the send; survey answers revised to the
latest, anchored to the first submission; the customer ledger's transitions; social counts
net of unlikes. Uniques are exact sets here and compared with Pulse's HyperLogLogs within a
tolerance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Labels = frozenset[tuple[str, str]]
Key = tuple[str, Labels]
SESSION_TIMEOUT_S = 1800
REASONS = ("too_large", "invalid_json", "not_an_object", "unknown_type", "wrong_topic", "missing_field")


@dataclass(frozen=True, slots=True)
class Want:
    value: float
    approximate: bool = False  # a HyperLogLog estimate: within the harness's tolerance


def key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


class Expected:
    """Expected samples; names listed in `names` must not show any other non-zero sample."""

    def __init__(self) -> None:
        self.values: dict[Key, Want] = {}
        self.names: set[str] = set()

    def put(self, name: str, value: float, approximate: bool = False, **labels: str) -> None:
        self.names.add(name)
        self.values[key(name, **labels)] = Want(value, approximate)

    def counts(
        self, name: str, counter: Mapping[tuple[str, ...], float], labels: Sequence[str], **fixed: str
    ) -> None:
        self.names.add(name)
        for values, n in counter.items():
            if n:
                self.put(name, n, **fixed, **dict(zip(labels, values, strict=True)))


def expected(
    events: Iterable[dict[str, Any]],
    garbage: Mapping[tuple[str, str], int],
    now_s: float,
    windows: Sequence[tuple[str, int]],
    topic_of: Callable[[str], str],
) -> Expected:
    by_family: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_family[event["type"].split(".")[0]].append(event)
    out = Expected()
    _pipeline(out, by_family, garbage, topic_of)
    for label, window_s in windows:

        def inside(ts: float, window_s: int = window_s) -> bool:
            return now_s - window_s < ts <= now_s

        _web(out, by_family["clickstream"], inside, label)
        _email(out, by_family["email"], inside, label)
        _survey(out, by_family["survey"], inside, label)
        _customer(out, by_family["customer"], inside, label)
        _social(out, by_family["social"], inside, label)
    _active_customers(out, by_family["customer"])
    return out


def _pipeline(
    out: Expected,
    by_family: Mapping[str, list[dict[str, Any]]],
    garbage: Mapping[tuple[str, str], int],
    topic_of: Callable[[str], str],
) -> None:
    for family, events in by_family.items():
        for type_, n in Counter(e["type"] for e in events).items():
            out.put("pulse_events_total", n, topic=topic_of(family), type=type_)
    out.names.add("pulse_events_rejected_total")
    for (family, reason), n in garbage.items():
        out.put("pulse_events_rejected_total", n, topic=topic_of(family), reason=reason)


Inside = Callable[[float], bool]


def sessions(views: Iterable[dict[str, Any]]) -> list[tuple[str, int, int, int, str, int]]:
    """(property, first, last, views, exit page, exit time) of every session."""
    by_owner: defaultdict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for v in views:
        owner = ("s", v["session_id"]) if v.get("session_id") else ("v", v["anonymous_id"])
        by_owner[(v["property"], *owner)].append(v)
    found = []
    for (prop, kind, _), vs in by_owner.items():
        vs.sort(key=lambda v: v["timestamp"])
        run = [vs[0]]
        for v in vs[1:]:
            if kind == "v" and v["timestamp"] - run[-1]["timestamp"] > SESSION_TIMEOUT_S:
                found.append(_session(prop, run))
                run = []
            run.append(v)
        found.append(_session(prop, run))
    return found


def _session(prop: str, run: list[dict[str, Any]]) -> tuple[str, int, int, int, str, int]:
    last = run[-1]
    return prop, run[0]["timestamp"], last["timestamp"], len(run), last["page"], last["timestamp"]


def _web(out: Expected, events: list[dict[str, Any]], inside: Inside, window: str) -> None:
    views = [e for e in events if e["type"] == "clickstream.page_view"]
    per = Counter((v["property"],) for v in views if inside(v["timestamp"]))
    out.counts("pulse_page_views", per, ("property",), window=window)
    by_page = Counter((v["property"], v["page"]) for v in views if inside(v["timestamp"]))
    out.counts("pulse_page_views_by_page", by_page, ("property", "page"), window=window)
    started: Counter[tuple[str]] = Counter()
    bounced: Counter[tuple[str]] = Counter()
    duration: Counter[str] = Counter()
    exits: Counter[tuple[str, str]] = Counter()
    for prop, first, last, n, exit_page, exit_ts in sessions(views):
        if inside(first):
            started[(prop,)] += 1
            bounced[(prop,)] += n == 1
            duration[prop] += last - first
        if inside(exit_ts):
            exits[(prop, exit_page)] += 1
    out.counts("pulse_sessions", started, ("property",), window=window)
    out.counts("pulse_bounced_sessions", bounced, ("property",), window=window)
    out.counts("pulse_page_exits", exits, ("property", "page"), window=window)
    out.names.add("pulse_session_duration_seconds")
    for (prop,), n in started.items():
        out.put("pulse_session_duration_seconds", duration[prop] / n, window=window, property=prop)
    for kind, metric in (("impression", "pulse_impressions"), ("click", "pulse_clicks")):
        shown = Counter(
            (e["property"], e["placement"])
            for e in events
            if e["type"] == f"clickstream.{kind}" and inside(e["timestamp"])
        )
        out.counts(metric, shown, ("property", "placement"), window=window)
    visitors: defaultdict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] != "clickstream.feature_used" and inside(e["timestamp"]):
            visitors[e["property"]].add(e["anonymous_id"])
    for prop, who in visitors.items():
        out.put("pulse_unique_visitors", len(who), approximate=True, window=window, property=prop)


EMAIL_COUNTS = ("sent", "delivered", "bounced", "opened", "human_opened", "clicked", "unsubscribed")


def _email(out: Expected, events: list[dict[str, Any]], inside: Inside, window: str) -> None:
    messages: defaultdict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        messages[(e["property"], e["message_id"])].append(e)
    overall: Counter[tuple[str, str]] = Counter()  # (property, count) -> messages
    per_campaign: Counter[tuple[str, str, str]] = Counter()
    for (prop, _), es in messages.items():
        kinds = {e["type"].removeprefix("email."): e for e in es}
        sends = [e["timestamp"] for e in es if e["type"] == "email.sent"]
        deliveries = [e["timestamp"] for e in es if e["type"] == "email.delivered"]
        anchor = min(sends) if sends else min(deliveries) if deliveries else None
        if anchor is None or not inside(anchor):
            continue
        opens = [e for e in es if e["type"] == "email.opened"]
        human_clicks = [e for e in es if e["type"] == "email.clicked" and not e.get("bot")]
        engaged = any(k in kinds for k in ("opened", "clicked", "unsubscribed", "spam_reported", "converted"))
        facts = {
            "sent": True,
            "delivered": "delivered" in kinds or engaged,
            "bounced": "bounced" in kinds,
            "opened": bool(opens or human_clicks),
            "human_opened": any(not o.get("machine") for o in opens) or bool(human_clicks),
            "clicked": bool(human_clicks),
            "unsubscribed": "unsubscribed" in kinds,
        }
        campaign = es[0]["campaign_id"]
        for name, fact in facts.items():
            overall[(prop, name)] += fact
            per_campaign[(prop, campaign, name)] += fact
    for name in EMAIL_COUNTS:
        out.counts(
            f"pulse_email_{name}",
            {(p,): n for (p, c), n in overall.items() if c == name},
            ("property",),
            window=window,
        )
        out.counts(
            f"pulse_email_campaign_{name}",
            {(p, camp): n for (p, camp, c), n in per_campaign.items() if c == name},
            ("property", "campaign"),
            window=window,
        )


def nps_category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _survey(out: Expected, events: list[dict[str, Any]], inside: Inside, window: str) -> None:
    responses: defaultdict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        responses[(e["property"], e["response_id"])].append(e)
    nps: Counter[tuple[str, str, str]] = Counter()
    csat: Counter[tuple[str, str]] = Counter()
    positive: Counter[tuple[str, str]] = Counter()
    for (prop, _), es in responses.items():
        if not inside(min(e["timestamp"] for e in es)):  # anchored to the first submission
            continue
        latest = max(es, key=lambda e: e["timestamp"])  # the latest answer counts
        if latest["type"] == "survey.nps":
            nps[(prop, latest["survey_id"], nps_category(latest["score"]))] += 1
        else:
            csat[(prop, latest["survey_id"])] += 1
            positive[(prop, latest["survey_id"])] += latest["score"] >= 4  # top 2 of 5
    out.counts("pulse_nps_responses", nps, ("property", "survey", "category"), window=window)
    out.counts("pulse_csat_responses", csat, ("property", "survey"), window=window)
    out.counts("pulse_csat_positive_responses", positive, ("property", "survey"), window=window)


_RANK = {"started": 0, "reactivated": 1, "cancelled": 2}


def _transitions(events: list[dict[str, Any]]) -> tuple[list[tuple[int, str, str]], str | None]:
    """Each customer's (time, "act"|"new"|"churn", reason) transitions, and its plan if active now."""
    subs = sorted(
        (e for e in events if "subscription" in e["type"]),
        key=lambda e: (e["timestamp"], _RANK[e["type"].rsplit("_", 1)[1]]),
    )
    active, ever, plan = False, False, None
    found: list[tuple[int, str, str]] = []
    for e in subs:
        if e["type"].endswith("cancelled"):
            if active:
                found.append((e["timestamp"], "churn", e.get("reason", "unspecified")))
            active = False
        else:
            if not active:
                found.append((e["timestamp"], "act" if ever else "new", ""))
            active, ever, plan = True, True, e.get("plan")
    return found, plan if active else None


def _customers(events: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    by_customer: defaultdict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_customer[(e["property"], e["customer_id"])].append(e)
    return by_customer


def _customer(out: Expected, events: list[dict[str, Any]], inside: Inside, window: str) -> None:
    churned: Counter[tuple[str, str]] = Counter()
    activations: Counter[tuple[str]] = Counter()
    new: Counter[tuple[str]] = Counter()
    for (prop, _), es in _customers(events).items():
        for ts, what, reason in _transitions(es)[0]:
            if not inside(ts):
                continue
            if what == "churn":
                churned[(prop, reason)] += 1
            else:
                activations[(prop,)] += 1
                new[(prop,)] += what == "new"
    out.counts("pulse_churned_customers", churned, ("property", "reason"), window=window)
    out.counts("pulse_customer_activations", activations, ("property",), window=window)
    out.counts("pulse_new_customers", new, ("property",), window=window)
    orders = {(e["property"], e["order_id"]): e for e in events if e["type"] == "customer.order_placed"}
    placed = [e for e in orders.values() if inside(e["timestamp"])]
    count = Counter((e["property"], e.get("currency", "USD")) for e in placed)
    revenue: Counter[tuple[str, str]] = Counter()
    for e in placed:
        revenue[(e["property"], e.get("currency", "USD"))] += e["amount"]
    out.counts("pulse_orders", count, ("property", "currency"), window=window)
    out.counts("pulse_revenue", revenue, ("property", "currency"), window=window)


def _active_customers(out: Expected, events: list[dict[str, Any]]) -> None:
    active: Counter[tuple[str, str]] = Counter()
    for (prop, _), es in _customers(events).items():
        plan = _transitions(es)[1]
        if plan is not None:
            active[(prop, plan)] += 1
    out.counts("pulse_active_customers", active, ("property", "plan"))


def _social(out: Expected, events: list[dict[str, Any]], inside: Inside, window: str) -> None:
    kinds = {
        "like": ("likes", 1),
        "unlike": ("likes", -1),
        "comment": ("comments", 1),
        "share": ("shares", 1),
    }
    interactions: Counter[tuple[str, str, str]] = Counter()
    impressions: Counter[tuple[str, str]] = Counter()
    for e in events:
        if not inside(e["timestamp"]):
            continue
        name = e["type"].removeprefix("social.")
        if name == "impression":
            impressions[(e["property"], e["platform"])] += e.get("count", 1)
        elif name in kinds:
            kind, sign = kinds[name]
            interactions[(e["property"], e["platform"], kind)] += sign * e.get("count", 1)
    out.counts("pulse_social_interactions", interactions, ("property", "platform", "kind"), window=window)
    out.counts("pulse_social_impressions", impressions, ("property", "platform"), window=window)
