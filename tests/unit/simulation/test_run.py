"""The sender loop (with a fake sender: no Kafka), the progress bar, and the JSON Lines output."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from metrics_core.events.decode import decode
from metrics_core.events.model import Event, Rejection
from metrics_core.routing import routing_key
from metrics_core.settings import Settings
from streams.cli import main
from streams.produce import route
from streams.producer import Message
from streams.simulation.plan import Plan
from streams.simulation.run import ProgressBar, Tally, simulate, write_jsonl

SETTINGS = Settings(kafka_url="kafka://127.0.0.1:1", topic_prefix="t.")
NOW_MS = 1_700_000_000_000


class FakeSender:
    def __init__(self) -> None:
        self.batches: list[list[Message]] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send_batch(self, messages: Sequence[Message]) -> None:
        self.batches.append(list(messages))


def _check(messages: Sequence[Message], prefix: str = "t.") -> None:
    for topic, partition, key, value, headers in messages:
        assert value is not None and partition is None and not headers
        family = orjson.loads(value)["type"].partition(".")[0]
        assert topic == f"{prefix}{family}"
        event = decode(value, family, now_ms=2**53)
        assert isinstance(event, Event), event
        assert key == routing_key(event).encode()


async def test_simulate_sends_exactly_the_count_to_the_family_topics_keyed_by_routing() -> None:
    sender, seen = FakeSender(), []
    plan = Plan(rate=5000, count=700, seed=1)
    tally = await simulate(SETTINGS, plan, progress=lambda t: seen.append(t.sent), sender=sender)
    messages = [m for batch in sender.batches for m in batch]
    assert len(messages) == tally.sent == 700
    assert sender.started and sender.stopped
    _check(messages)
    assert {m[0] for m in messages} == {
        f"t.{f}" for f in ("clickstream", "email", "social", "survey", "customer")
    }
    assert seen and seen[-1] == 700 and seen == sorted(seen)
    assert sum(tally.by_family.values()) == 700


async def test_a_duration_sends_rate_times_duration() -> None:
    sender = FakeSender()
    tally = await simulate(SETTINGS, Plan(rate=1000, duration_s=0.3, seed=2), sender=sender)
    assert tally.sent == 300  # three ticks of 100 ms at 1,000 events/s, however long sending took


async def test_the_count_of_a_surge_counts_every_event() -> None:
    sender = FakeSender()
    plan = Plan(rate=2000, count=500, seed=3, scenario="traffic-surge", families=("web",))
    tally = await simulate(SETTINGS, plan, sender=sender)
    assert tally.sent == 500 and tally.by_family == {"clickstream": 500}


def test_the_progress_bar_on_a_terminal_and_in_a_log() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tally = Tally(Plan(rate=100, count=1000, seed=5, scenario="churn-spike", scenario_at_s=60), started_s=0.0)
    tally.by_family.update({"clickstream": 400, "email": 100})
    tally.sim_elapsed_s = 5.0
    terminal = Terminal()
    bar = ProgressBar(terminal, clock=lambda: 5.0)
    bar(tally)
    line = terminal.getvalue()
    assert line.startswith("\rpulse simulate [############------------]  50%")
    assert "500/1,000 events  100/s  0:05  scenario churn-spike in 0:55" in line
    bar(tally)  # within 0.25 s of the last redraw: nothing
    assert terminal.getvalue() == line
    bar.close(tally)
    assert terminal.getvalue().endswith(
        "\npulse simulate: sent 500 events in 5.0 s (100/s): clickstream 400, email 100; "
        "seed 5 (--seed 5 repeats this traffic), scenario churn-spike from 1:00\n"
    )
    log = io.StringIO()
    ProgressBar(log, clock=lambda: 5.0)(tally)
    assert log.getvalue().startswith("pulse simulate [") and log.getvalue().endswith("\n")


def test_write_jsonl_ends_now_and_every_line_is_accepted_by_produce() -> None:
    out = io.BytesIO()
    tally = write_jsonl(out, Plan(rate=50, count=1000, seed=2), now_ms=NOW_MS)
    lines = out.getvalue().splitlines()
    assert len(lines) == tally.sent == 1000
    times = [orjson.loads(line)["timestamp"] * 1000 for line in lines]
    assert min(times) >= NOW_MS - 20_200 and max(times) <= NOW_MS  # count / rate = 20 s, ending now
    routed = [route(line, SETTINGS, NOW_MS) for line in lines]
    assert not [r for r in routed if isinstance(r, Rejection)]
    _check([r for r in routed if not isinstance(r, Rejection)])


def test_write_jsonl_for_a_duration() -> None:
    out = io.BytesIO()
    write_jsonl(out, Plan(rate=10, duration_s=60, seed=2), now_ms=NOW_MS)
    lines = out.getvalue().splitlines()
    assert len(lines) == 600
    assert min(orjson.loads(line)["timestamp"] for line in lines) >= (NOW_MS - 60_000) / 1000


def test_cli_output_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "traffic.jsonl"
    assert (
        main(["simulate", "--output", str(path), "--count", "50", "--seed", "4", "--families", "survey"]) == 0
    )
    lines = path.read_bytes().splitlines()
    assert len(lines) == 50 and all(orjson.loads(line)["type"].startswith("survey.") for line in lines)
    assert "wrote 50 events: survey 50; seed 4" in capsys.readouterr().err


def test_cli_output_needs_an_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--output", "-"]) == 1
    assert "needs --duration or --count" in capsys.readouterr().err
