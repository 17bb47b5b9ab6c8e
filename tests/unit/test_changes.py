"""Changes spread over tiers: one bucket per tier, dead buckets skipped, zero nets dropped."""

from __future__ import annotations

from metrics_core.families.changes import Changes, field_name, spread

S, M, H = 1000, 60_000, 3_600_000
NOW_MS = 1_700_002_800_000  # an exact hour
# tiers of the windows 5m, 1h, 24h: bucket width -> longest window read from it
TIER_SPANS = {5 * S: 5 * M, 60 * S: H, 20 * M: 24 * H}


def test_a_change_lands_in_every_tier_that_reads_it() -> None:
    changes = Changes()
    changes.count(NOW_MS - 61_500, field_name("pv", "shop"))  # 61.5 s ago: grain 1 s
    changes.count(NOW_MS - 61_500, field_name("pv", "shop"), 2)
    changes.unique(NOW_MS - 61_500, field_name("uv", "shop"), "v1")
    placed = spread(changes, TIER_SPANS, NOW_MS)
    # second NOW-62 s: 5 s bucket NOW-65 s, 60 s bucket NOW-120 s, 20 min bucket NOW-20 min
    assert placed.counters == {
        (5 * S, NOW_MS - 65_000): {"pv\x1fshop": 3},
        (60 * S, NOW_MS - 120_000): {"pv\x1fshop": 3},
        (20 * M, NOW_MS - 20 * M): {"pv\x1fshop": 3},
    }
    buckets = ((5 * S, NOW_MS - 65_000), (60 * S, NOW_MS - 120_000), (20 * M, NOW_MS - 20 * M))
    assert placed.uniques == {(buckets, "uv\x1fshop"): {"v1"}}  # the member once, for every tier


def test_dead_buckets_are_skipped() -> None:
    changes = Changes()
    changes.count(NOW_MS - 2 * H, "pv")  # two hours ago: only the 24h tier still reads it
    assert list(spread(changes, TIER_SPANS, NOW_MS).counters) == [(20 * M, NOW_MS - 2 * H)]


def test_zero_net_deltas_are_dropped() -> None:
    changes = Changes()
    changes.count(NOW_MS - 10_000, "ss", -1)  # a session retracted ...
    changes.count(NOW_MS - 10_000, "ss", +1)  # ... and added back unchanged
    changes.count(NOW_MS - 10_000, "sd", 0)
    assert spread(changes, TIER_SPANS, NOW_MS).counters == {}


def test_put_state() -> None:
    changes = Changes()
    changes.put_state("k", b"v", 123)
    changes.put_state("gone", None)
    assert changes.states == {"k": (b"v", 123), "gone": (None, 0)}
