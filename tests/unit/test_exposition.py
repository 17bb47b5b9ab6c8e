"""Exposition: pipeline metrics, pulse_up, the latency histogram, and `promtool check metrics`."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator, Mapping, Sequence

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from metrics_core.events.model import FAMILIES, Reason
from metrics_core.events.schema import TYPES
from metrics_core.exposition import web
from metrics_core.exposition.emit import Emitter
from metrics_core.exposition.metricset import MetricSet
from metrics_core.families.changes import SEP, field_name
from metrics_core.store.base import Buckets, ShardId, UniqueGroup
from metrics_core.store.memory import MemoryStore
from tests.unit.conftest import (
    NOW_MS,
    NOW_S,
    HarnessFactory,
    InterferingStore,
    click,
    conversion,
    feature_used,
    impression,
    page_view,
    parse,
    scrape_text,
)

N = NOW_S
PAGE_VIEW = "clickstream.page_view"
BOUNDS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")


def check_metrics(promtool: str, text: str) -> None:
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, (
        f"promtool check metrics failed ({result.returncode}):\n"
        f"{result.stdout.decode()}{result.stderr.decode()}\n--- scrape ---\n{text}"
    )


# Label values an attacker (or a sloppy producer) may send.
HOSTILE = [
    'say "hi"',
    "back\\slash\\",
    'both \\" at once',
    "new\nline\r\nand\ttab",
    "uni\u2028code é 日本語 \U0001f600 \u200b\ufeff",
    "ann@example.com",
    "}{=,",
    "x" * 256,  # the longest accepted string; cut to 128 characters as a label
    "y" * 1000,  # rejected: string_too_long
]


async def test_scrape_passes_promtool(applier: HarnessFactory, promtool: str) -> None:
    pulse = applier()
    events = []
    for i, value in enumerate(HOSTILE):
        prop = value[:256]
        events += [
            page_view(f"pv{i}", N - 60, value, anonymous_id=value[:256], property=prop),
            page_view(f"pw{i}", N - 30, "/" + value, session_id=value, user_id=value, property=prop),
            impression(f"im{i}", N - 50, value, anonymous_id=value, property=prop),
            click(f"ck{i}", N - 40, value, anonymous_id=value, property=prop),
            conversion(f"cv{i}", N - 20, value, anonymous_id=value, property=prop),
            feature_used(f"fu{i}", N - 10, value, user_id=value, property=prop),
        ]
    events += [b"\x00garbage", b"[]"]
    outcome = await pulse.feed(*events)
    assert outcome.applied > 0 and outcome.rejected > 0
    text = scrape_text(pulse.store)
    check_metrics(promtool, text)
    assert "ann@example.com" not in text  # no raw e-mail address in any label
    scrape = parse(text)
    placements = {labels["placement"] for labels in scrape.names("pulse_clicks")}
    # the values survive the round trip through the text format, sanitised
    assert placements == {
        'say "hi"',
        "back\\slash\\",
        'both \\" at once',
        "newlineandtab",
        "unicode é 日本語 😀",  # separators and invisible format characters are dropped
        "<email>",
        "}{=,",
        "x" * 128,
    }


def test_hostile_label_values_pass_promtool_unsanitised(promtool: str) -> None:
    """The exposition escapes whatever it is given, even values that skipped sanitize()."""
    out = MetricSet()
    web.declare(out)
    values = ['q"uote', "b\\ack", "n\nl", "é" * 1000, "z" * 1000]
    counters = {field_name("pv", v): 1 for v in values}
    counters.update({field_name("ck", "default", v): 2 for v in values})

    class View:  # a window view that skips the store: unsanitised values straight in
        label = "5m"

        def __init__(self) -> None:
            self.counters = counters

        def uniques(self, groups: Mapping[str, Sequence[str]], witnesses: object = None) -> dict[str, int]:
            return dict.fromkeys(groups, 1)

    web.collect_window(View(), 500, Emitter(out, web.SPECS, "5m"))  # type: ignore[arg-type]

    class Static(Collector):
        def collect(self) -> Iterator[Metric]:
            return out.families()

    registry = CollectorRegistry()
    registry.register(Static())
    text = generate_latest(registry).decode()
    check_metrics(promtool, text)
    scrape = parse(text)
    props = {labels["property"] for labels in scrape.names("pulse_page_views")}
    assert props == {*values, "default"}  # "default" from the clicks
    assert scrape.value("pulse_clicks", window="5m", property="default", placement="z" * 1000) == 2


def test_promtool_runs_on_an_empty_store(promtool: str) -> None:
    check_metrics(promtool, scrape_text(MemoryStore()))


async def test_pipeline_metrics_zero_defaults(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.feed(page_view("a", N - 60, "/", anonymous_id="v"), b"{}")
    scrape = pulse.scrape()
    for family in FAMILIES:  # every family's topic, every type of it, every reason
        for type_name in (t for t in TYPES if t.startswith(family + ".")):
            expected = 1 if type_name == PAGE_VIEW else 0
            assert scrape.value("pulse_events_total", topic=family, type=type_name) == expected
        for reason in Reason:
            expected = 1 if (family, reason) == ("clickstream", Reason.MISSING_FIELD) else 0
            assert scrape.value("pulse_events_rejected_total", topic=family, reason=reason.value) == expected
        assert scrape.value("pulse_events_duplicate_total", topic=family) == 0
        assert scrape.value("pulse_events_late_total", topic=family) == 0
    assert len(scrape.names("pulse_events_total")) == len(TYPES)
    assert len(scrape.names("pulse_events_rejected_total")) == len(FAMILIES) * len(Reason)
    assert scrape.value("pulse_last_event_timestamp_seconds", topic="clickstream") == N - 60
    assert scrape.get("pulse_last_event_timestamp_seconds", topic="email") is None  # no event yet
    assert scrape.value("pulse_up") == 1


async def test_last_event_timestamp_is_the_newest(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.feed(page_view("a", N - 10, "/", anonymous_id="v"))
    await pulse.feed(page_view("b", N - 500, "/", anonymous_id="v"))  # older: no change
    assert pulse.scrape().value("pulse_last_event_timestamp_seconds", topic="clickstream") == (N - 10)


class StubReader:
    """A Reader that serves fixed pipeline hashes for two clickstream shards."""

    SHARDS = (ShardId("clickstream", 0), ShardId("clickstream", 1))

    def __init__(self, hashes: list[dict[str, int]]) -> None:
        self.hashes = hashes

    def shards(self) -> list[ShardId]:
        return list(self.SHARDS)

    def buckets(self, shards: Sequence[ShardId], spans: Mapping[int, range]) -> Buckets:
        return {width: {} for width in spans}

    def uniques(self, bucket_ms: int, groups: Mapping[str, UniqueGroup]) -> dict[str, int]:
        return dict.fromkeys(groups, 0)

    def pipeline(self, shards: Sequence[ShardId]) -> list[dict[str, int]]:
        return [h for s, h in zip(self.SHARDS, self.hashes, strict=True) if s in shards]

    def ping(self) -> bool:
        return True


def test_pipeline_sums_shards_and_buckets_are_cumulative() -> None:
    lat = "lat" + SEP
    hashes = [
        {
            lat + "0.005": 2,
            lat + "0.1": 1,
            "lat_us": 30_000,
            "acc" + SEP + "clickstream.click": 3,
            "lts": 1_700_000_000_500,
            "lag" + SEP + "clickstream" + SEP + "0": 7,
            "dup": 1,
        },
        {
            lat + "0.005": 1,
            lat + "+Inf": 1,
            "lat_us": 12_004_000,
            "late": 6,
            "acc" + SEP + "clickstream.click": 2,
            "rej" + SEP + "invalid_json": 4,
            "dup": 4,
            "lts": 1_700_000_001_250,
            "lag" + SEP + "clickstream" + SEP + "1": 0,
        },
    ]
    scrape = parse(scrape_text(StubReader(hashes)))
    assert scrape.value("pulse_events_total", topic="clickstream", type="clickstream.click") == 5
    assert scrape.value("pulse_events_rejected_total", topic="clickstream", reason="invalid_json") == 4
    assert scrape.value("pulse_events_duplicate_total", topic="clickstream") == 5  # 1 + 4
    assert scrape.value("pulse_events_late_total", topic="clickstream") == 6
    # the newer of the two shards' newest events: 1 700 000 001 250 ms
    assert scrape.value("pulse_last_event_timestamp_seconds", topic="clickstream") == 1_700_000_001.25
    assert scrape.value("pulse_consumer_lag", topic="clickstream", partition="0") == 7
    assert scrape.value("pulse_consumer_lag", topic="clickstream", partition="1") == 0
    # per-bucket counts 0.005: 2 + 1, 0.1: 1, +Inf: 1 -> cumulative 3, 3, 3, 3, 4, ..., 4, 5
    expected = dict(zip(BOUNDS, [3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5], strict=True))
    for bound, n in expected.items():
        assert scrape.value("pulse_batch_apply_seconds_bucket", topic="clickstream", le=bound) == n
    assert scrape.value("pulse_batch_apply_seconds_count", topic="clickstream") == 5
    # (30 000 + 12 004 000) µs = 12.034 s
    assert scrape.value("pulse_batch_apply_seconds_sum", topic="clickstream") == pytest.approx(12.034)


async def test_apply_latency_histogram(applier: HarnessFactory) -> None:
    # each apply reads the clock twice: start, and after the commit; latencies 0.25, 0.5, 16 s
    ticks = iter([1.0, 1.25, 2.0, 2.5, 4.0, 20.0, 30.0, 30.0])
    pulse = applier(clock=lambda: next(ticks))
    for i in range(4):
        await pulse.feed(page_view(f"e{i}", N - 60, "/", anonymous_id="v"))
    scrape = pulse.scrape()
    # a batch's latency is known after its commit, so the next batch's commit carries it:
    # after 4 batches, 3 observations: 0.25 (in le=0.25), 0.5 (le=0.5), 16 (only +Inf)
    expected = dict(zip(BOUNDS, [0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 3], strict=True))
    for bound, n in expected.items():
        assert scrape.value("pulse_batch_apply_seconds_bucket", topic="clickstream", le=bound) == n
    assert scrape.value("pulse_batch_apply_seconds_count", topic="clickstream") == 3
    assert scrape.value("pulse_batch_apply_seconds_sum", topic="clickstream") == 16.75  # .25+.5+16


async def test_apply_latency_survives_a_conflict(applier: HarnessFactory) -> None:
    store = InterferingStore()
    pulse, rival = applier(store=store), applier(store=store)
    await pulse.feed(page_view("a", N - 60, "/", anonymous_id="v"))
    store.interfere = lambda: rival.apply(
        rival.plan([page_view("r", N - 50, "/", anonymous_id="w")]), source="clickstream.repartition@1|0"
    )
    assert (await pulse.feed(page_view("b", N - 40, "/", anonymous_id="v"))).attempts == 2
    await pulse.feed(page_view("c", N - 30, "/", anonymous_id="v"))
    # our batches 1 and 2 are observed (by batches 2 and 3); the rival's one is still pending
    scrape = pulse.scrape()
    assert scrape.value("pulse_batch_apply_seconds_count", topic="clickstream") == 2


def test_pulse_up_is_1_when_the_store_reads() -> None:
    scrape = parse(scrape_text(MemoryStore()))
    assert scrape.value("pulse_up") == 1
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 0


def test_pulse_up_is_0_when_the_reader_raises(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(StubReader):
        def pipeline(self, shards: Sequence[ShardId]) -> list[dict[str, int]]:
            raise ConnectionError("redis is down")

    with caplog.at_level(logging.ERROR, logger="metrics_core.exposition.collector"):
        scrape = parse(scrape_text(Broken([{}, {}])))
    assert scrape.samples == {("pulse_up", frozenset()): 0}  # nothing half-read is exported
    assert "scrape failed" in caplog.text
    assert "redis is down" in caplog.text


async def test_scrape_keeps_no_state(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.feed(page_view("a", N - 60, "/", anonymous_id="v"))
    assert scrape_text(pulse.store) == scrape_text(pulse.store)
    assert scrape_text(pulse.store, NOW_MS) != scrape_text(pulse.store, NOW_MS + 600_000)
