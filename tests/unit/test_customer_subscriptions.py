"""The customer family's subscriptions: the customer ledger's churn, retention, active customers,
reactivation, revisions by late and equal-time events, and compaction of old events.

Times are seconds before N (= NOW_S, an exact hour), as in tests/unit/test_customer_family.py,
with which they share `customers`, `get` and the event builders (tests/unit/customer_support.py).
"""

from __future__ import annotations

import pytest

from metrics_core.families.base import state_key
from metrics_core.families.ledger import Base, Ledger
from tests.unit.conftest import HOUR_S, NOW_MS
from tests.unit.customer_support import MIN, SHARD, cancelled, customers, gauges, get, reactivated, started

# --- the customer ledger: churn, retention, active now


async def test_churn_20_of_100_is_020() -> None:
    pulse = customers()
    await pulse.feed(*(started(f"s{i}", 2 * HOUR_S, f"c{i}") for i in range(100)))
    await pulse.feed(
        *(cancelled(f"x{i}", 30 * MIN, f"c{i}", ("voluntary", "involuntary")[i % 2]) for i in range(20))
    )
    s = pulse.scrape()
    assert get(s, "pulse_active_customers", None, plan="pro") == 80  # 100 − 20
    assert get(s, "pulse_churned_customers", reason="voluntary") == 10  # c0, c2, ..., c18
    assert get(s, "pulse_churned_customers", reason="involuntary") == 10
    assert get(s, "pulse_churned_customers", reason="unspecified") == 0
    assert get(s, "pulse_customers_at_window_start") == 100  # 80 − 0 + 20
    assert get(s, "pulse_churn_ratio") == pytest.approx(0.20)  # 20 / 100
    assert get(s, "pulse_churn_ratio_sample_size") == 100
    assert get(s, "pulse_retention_ratio") == pytest.approx(0.80)  # (80 − 0) / 100
    # Wilson, p = 0.2, n = 100: centre 0.2 + 1.96²/200 = 0.21921, margin
    # 1.96·sqrt(0.0016 + 1.96²/40000) = 0.08072, scale 1 + 1.96²/100 = 1.03841
    assert get(s, "pulse_churn_ratio_lower") == pytest.approx(0.13337, abs=1e-4)
    assert get(s, "pulse_churn_ratio_upper") == pytest.approx(0.28883, abs=1e-4)
    # 5m: nothing happened; at start = 80 − 0 + 0
    assert get(s, "pulse_churn_ratio", "5m") == 0.0
    assert get(s, "pulse_customers_at_window_start", "5m") == 80
    # 24h: all 100 started inside it: 80 − 100 + 20 = 0 at start: no ratio, sample size 0
    assert get(s, "pulse_new_customers", "24h") == 100
    assert get(s, "pulse_churn_ratio", "24h") is None
    assert get(s, "pulse_churn_ratio_sample_size", "24h") == 0


async def test_retention_100_start_10_new_100_end_is_090() -> None:
    pulse = customers()
    await pulse.feed(*(started(f"s{i}", 2 * HOUR_S, f"c{i}") for i in range(100)))
    await pulse.feed(*(cancelled(f"x{i}", 40 * MIN, f"c{i}") for i in range(10)))
    await pulse.feed(*(started(f"n{i}", 20 * MIN, f"new{i}", plan="basic") for i in range(10)))
    s = pulse.scrape()
    assert get(s, "pulse_active_customers", None, plan="pro") == 90
    assert get(s, "pulse_active_customers", None, plan="basic") == 10  # 100 at the end
    assert get(s, "pulse_new_customers") == 10
    assert get(s, "pulse_customer_activations") == 10
    assert get(s, "pulse_customers_at_window_start") == 100  # 100 − 10 + 10
    assert get(s, "pulse_retention_ratio") == pytest.approx(0.90)  # (100 − 10) / 100
    assert get(s, "pulse_churn_ratio") == pytest.approx(0.10)  # 10 / 100


async def test_a_second_cancellation_changes_nothing() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 2 * HOUR_S, "c1"), started("s2", 2 * HOUR_S, "c2"))
    await pulse.feed(cancelled("x1", 30 * MIN, "c1", "voluntary"))
    before = pulse.scrape()
    await pulse.feed(cancelled("x2", 10 * MIN, "c1", "involuntary"))  # cancelled already
    after = pulse.scrape()
    assert gauges(after) == gauges(before)
    assert get(after, "pulse_churned_customers", reason="voluntary") == 1
    assert get(after, "pulse_churned_customers", reason="involuntary") == 0
    assert get(after, "pulse_churn_ratio") == pytest.approx(0.5)  # 1 / (1 − 0 + 1)


async def test_an_earlier_cancellation_arriving_later_moves_the_churn() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 2 * HOUR_S, "c1"), cancelled("x1", 2 * MIN, "c1", "voluntary"))
    assert get(pulse.scrape(), "pulse_churned_customers", "5m", reason="voluntary") == 1
    await pulse.feed(cancelled("x0", 50 * MIN, "c1", "involuntary"))  # the real churn, 50 min ago
    s = pulse.scrape()
    assert get(s, "pulse_churned_customers", "5m", reason="voluntary") == 0  # x1 is no transition now
    assert get(s, "pulse_churned_customers", reason="involuntary") == 1
    assert get(s, "pulse_churned_customers", reason="voluntary") == 0
    assert get(s, "pulse_active_customers", None, plan="pro") is None  # nobody active: no sample


async def test_reactivation_returns_the_customer_to_active() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 2 * HOUR_S, "c1", plan="pro"))
    await pulse.feed(cancelled("x1", 40 * MIN, "c1"))
    assert get(pulse.scrape(), "pulse_active_customers", None, plan="pro") is None
    await pulse.feed(reactivated("r1", 10 * MIN, "c1"))  # no plan: keeps "pro"
    s = pulse.scrape()
    assert get(s, "pulse_active_customers", None, plan="pro") == 1
    assert get(s, "pulse_customer_activations") == 1  # r1
    assert get(s, "pulse_new_customers") == 0  # not the first activation
    assert get(s, "pulse_churned_customers", reason="voluntary") == 1
    assert get(s, "pulse_customers_at_window_start") == 1  # 1 − 1 + 1
    assert get(s, "pulse_churn_ratio") == 1.0  # 1 / 1
    assert get(s, "pulse_retention_ratio") == 0.0  # (1 − 1) / 1: it churned, it is not retained


async def test_a_cancel_arriving_before_the_start() -> None:
    pulse = customers()
    await pulse.feed(cancelled("x1", 10 * MIN, "c1", None))  # unknown customer: no transition
    s = pulse.scrape()
    assert get(s, "pulse_churned_customers", reason="unspecified") is None  # nothing counted at all
    await pulse.feed(started("s1", 50 * MIN, "c1", plan=None))
    s = pulse.scrape()
    assert get(s, "pulse_new_customers") == 1  # s1 at N-50m
    assert get(s, "pulse_churned_customers", reason="unspecified") == 1  # x1 at N-10m, now a churn
    assert get(s, "pulse_active_customers", None, plan="none") is None  # cancelled at the end
    assert get(s, "pulse_customers_at_window_start") == 0  # 0 − 1 + 1
    assert get(s, "pulse_churn_ratio") is None  # 1 / 0: not exported
    assert get(s, "pulse_churn_ratio_sample_size") == 0


async def test_equal_timestamps_cancel_last_and_plan_changes_follow_the_latest_event() -> None:
    pulse = customers()
    await pulse.feed(cancelled("x1", 30 * MIN, "c1"), started("s1", 30 * MIN, "c1"))
    await pulse.feed(started("s2", 20 * MIN, "c2", plan="pro"), started("s3", 10 * MIN, "c2", plan="team"))
    s = pulse.scrape()
    assert get(s, "pulse_new_customers") == 2  # c1 at N-30m, c2 at N-20m (s3 is no transition)
    assert get(s, "pulse_churned_customers", reason="voluntary") == 1  # c1: start, then cancel, same ms
    assert get(s, "pulse_active_customers", None, plan="team") == 1  # c2 on its latest plan
    assert get(s, "pulse_active_customers", None, plan="pro") is None


async def test_old_subscription_events_compact_and_the_ledger_remembers_its_first_activation() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 24 * HOUR_S, "c1"), cancelled("x1", 23 * HOUR_S, "c1"))
    later = NOW_MS + 2 * HOUR_S * 1000  # s1 and x1 now lie beyond the 25 h retention
    await pulse.feed(reactivated("r1", -HOUR_S - 20 * MIN, "c1"), now_ms=later)  # at N+1h20m
    key = state_key("c", "default", "c1")
    snap = await pulse.store.snapshot(SHARD, "customer@1|0", [], [key], None)
    ledger = Ledger.load(snap.states[key])
    assert ledger.base == Base(active=False, plan="pro", ever=True)  # s1, x1 folded into the base
    assert [s.kind for s in ledger.subs] == ["react"]
    assert ledger.active_now == ("default", "pro")
    s = pulse.scrape(later)
    assert get(s, "pulse_customer_activations") == 1
    assert get(s, "pulse_new_customers") == 0  # c1 was active 24 h before: not new
    assert get(s, "pulse_active_customers", None, plan="pro") == 1
