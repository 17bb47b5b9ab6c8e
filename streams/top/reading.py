"""One read of the exporter: its samples by name and labels, and when they were read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Reading:
    """Samples of one scrape (`pulse_events_total`, not the family name `pulse_events`) and the
    wall-clock time it was taken, for rates and ages."""

    samples: Mapping[tuple[str, Labels], float]
    taken_s: float

    def value(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels, or None when it is not exported."""
        return self.samples.get((name, frozenset(labels.items())))

    def matching(self, name: str, **labels: str) -> Iterator[tuple[dict[str, str], float]]:
        """Every sample of `name` whose labels include `labels`, with all its labels."""
        wanted = labels.items()
        for (sample, found), value in self.samples.items():
            if sample == name and wanted <= found:
                yield dict(found), value

    def total(self, name: str, **labels: str) -> float | None:
        """The sum of the samples `matching`; None when there are none."""
        values = [value for _, value in self.matching(name, **labels)]
        return sum(values) if values else None

    def label_values(self, label: str) -> list[str]:
        """Distinct values of `label` over every sample, in the order the exporter serves them."""
        seen = (dict(labels).get(label) for _, labels in self.samples)
        return list(dict.fromkeys(value for value in seen if value is not None))


def busiest_property(reading: Reading) -> str | None:
    """The property the screen shows when none is asked for: `default` if served, else the one
    with the most page views and e-mails sent (over every window), else the first served.

    >>> busiest_property(parse('pulse_page_views{property="a",window="5m"} 3\\n'
    ...                        'pulse_page_views{property="b",window="5m"} 9\\n', 0.0))
    'b'
    """
    served = reading.label_values("property")
    if not served or "default" in served:
        return "default" if served else None
    weight = {
        prop: sum(
            reading.total(name, property=prop) or 0 for name in ("pulse_page_views", "pulse_email_sent")
        )
        for prop in served
    }
    return max(served, key=lambda prop: weight[prop])  # ties: the first served


def parse(text: str, taken_s: float) -> Reading:
    """Parse Prometheus text; raises ValueError when it is not.

    >>> reading = parse('pulse_page_views{property="shop",window="5m"} 3.0\\n', taken_s=100.0)
    >>> reading.value("pulse_page_views", window="5m", property="shop")
    3.0
    """
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Reading(samples, taken_s)


def rate(current: Reading, previous: Reading | None, name: str) -> float | None:
    """Per second growth of the sum of a counter's samples between two reads; None without a
    previous read, when no time passed, or when the counter went back (a rebuild wiped it).

    >>> before = parse("pulse_events_total 100\\n", taken_s=10.0)
    >>> rate(parse("pulse_events_total 130\\n", taken_s=12.0), before, "pulse_events_total")
    15.0
    """
    if previous is None:
        return None
    now, before = current.total(name), previous.total(name)
    elapsed_s = current.taken_s - previous.taken_s
    if now is None or before is None or elapsed_s <= 0 or now < before:
        return None
    return (now - before) / elapsed_s
