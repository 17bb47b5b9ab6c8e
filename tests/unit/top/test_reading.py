"""Reads of the exporter: samples by name and labels, sums, and rates between two reads."""

from __future__ import annotations

import pytest

from streams.top.reading import busiest_property, parse, rate
from streams.top.render import render
from tests.unit.top.exposition import TAKEN_S, TEXT

EVENTS = "pulse_events_total"


def test_samples_by_exact_labels_and_sums_over_partial_ones() -> None:
    reading = parse(TEXT, TAKEN_S)
    assert reading.value("pulse_page_views", window="5m", property="shop") == 12345.0
    assert reading.value("pulse_page_views", window="5m") is None  # labels must match exactly
    assert reading.total(EVENTS) == 1534.0
    assert reading.total(EVENTS, topic="clickstream") == 1234.0
    assert reading.total("pulse_no_such_metric") is None
    assert reading.label_values("window") == ["5m", "1h"]


def test_text_that_is_not_prometheus_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse("<html><body>Not found</body></html>", TAKEN_S)


def test_the_rate_of_accepted_events_between_two_reads() -> None:
    before = parse(TEXT, TAKEN_S)
    after = parse(TEXT.replace("1200.0", "1230.0").replace(" 34.0\n", " 40.0\n", 1), TAKEN_S + 4)
    assert after.total(EVENTS) == 1570.0
    assert rate(after, before, EVENTS) == 9.0  # (1570 - 1534) / 4 s
    lines = render(after, before, "5m", "shop", 80).splitlines()
    assert "  accepted/s                        9.0   accepted                        1 570" in lines


def test_no_rate_without_a_previous_read_elapsed_time_or_growth() -> None:
    first = parse(f"{EVENTS} 100\n", 10.0)
    assert rate(first, None, EVENTS) is None
    assert rate(parse(f"{EVENTS} 120\n", 10.0), first, EVENTS) is None  # no time passed
    assert rate(parse(f"{EVENTS} 40\n", 12.0), first, EVENTS) is None  # wiped by a rebuild
    assert rate(parse("pulse_up 1\n", 12.0), first, EVENTS) is None  # no counter this time
    assert rate(parse(f"{EVENTS} 100\n", 12.0), first, EVENTS) == 0.0


def test_the_busiest_property_is_shown_when_none_is_asked_for() -> None:
    served = (
        'pulse_page_views{property="blog",window="5m"} 40\n'
        'pulse_page_views{property="shop",window="5m"} 25\n'
        'pulse_email_sent{property="shop",window="1h"} 30\n'
    )
    assert busiest_property(parse(served, 0.0)) == "shop"  # 55 against 40
    with_default = served + 'pulse_page_views{property="default",window="5m"} 1\n'
    assert busiest_property(parse(with_default, 0.0)) == "default"
    assert busiest_property(parse("pulse_up 1\n", 0.0)) is None
