"""What each `pulse` subcommand does, given the settings."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from pydantic import SecretStr

from metrics_core.errors import ConfigError, PulseError
from metrics_core.events.model import FAMILIES
from metrics_core.settings import Settings
from metrics_core.store.redis_store import RedisStore, namespace
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.kafka_admin import cluster_metadata, ensure_topics, kafka_bootstrap
from streams.kafka_security import client_options, describe
from streams.procs import free_port, stop_process
from streams.simulation.plan import Plan

EMBEDDED_REBALANCE_S = 3.0  # Tansu admits a member only after the rebalance timeout


_NEEDS = {  # which URLs each command needs
    "worker": ("kafka_url", "redis_url"),
    "exporter": ("redis_url",),
    "gateway": ("kafka_url",),
    "produce": ("kafka_url",),
    "simulate": ("kafka_url",),
    "check": ("kafka_url", "redis_url"),
    "rebuild": ("kafka_url", "redis_url"),
    "run": ("kafka_url", "redis_url"),
}


def require_urls(settings: Settings, command: str) -> None:
    missing = [f"PULSE_{name.upper()}" for name in _NEEDS.get(command, ()) if not getattr(settings, name)]
    if missing:
        raise ConfigError(
            f"`pulse {command}` needs {' and '.join(missing)} (or the matching flags); "
            "`pulse run` without URLs starts an embedded broker and Redis"
        )


def topic_plan(settings: Settings) -> dict[str, int]:
    """Every topic Pulse uses, with its partitions (DLQs take 1: order there does not matter)."""
    plan = {}
    for family in FAMILIES:
        plan[settings.topic(family)] = settings.partitions
        plan[settings.repartition_topic(family)] = settings.partitions
        plan[settings.dlq_topic(family)] = 1
    return plan


async def create_topics(settings: Settings) -> dict[str, int]:
    assert settings.kafka_url
    return await ensure_topics(
        kafka_bootstrap(settings.kafka_url), topic_plan(settings), security=client_options(settings)
    )


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):  # str() would give '**********': pass the secret itself
            value = value.get_secret_value()
        if value is not None:
            env[f"PULSE_{name.upper()}"] = str(value)
    return env


def _spawn(command: str, settings: Settings) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", command],
        env=settings_env(settings),
        start_new_session=True,
    )


def run(
    settings: Settings,
    simulate: bool = False,
    rate: float = 200.0,
    scenario: str = "steady",
    scenario_at_s: float = 0.0,
) -> int:
    """Everything in one command; embedded Tansu and Valkey when no URL is given. Ctrl-C stops all."""
    signal.signal(signal.SIGTERM, _interrupt)  # clean up children and servers on SIGTERM too
    with ExitStack() as stack:
        if settings.embedded:
            if settings.kafka_security_protocol != "PLAINTEXT":
                raise ConfigError(
                    "the embedded broker speaks PLAINTEXT only: give PULSE_KAFKA_URL (and PULSE_REDIS_URL) "
                    f"to use PULSE_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}"
                )
            print("pulse run: starting the embedded broker (Tansu) and Redis (Valkey)…", flush=True)
            kafka = stack.enter_context(EmbeddedKafka())
            redis = stack.enter_context(EmbeddedRedis())
            settings = settings.model_copy(
                update={
                    "kafka_url": kafka.url,
                    "redis_url": redis.url,
                    "exporter_host": "127.0.0.1",
                    "rebalance_timeout_s": EMBEDDED_REBALANCE_S,
                }
            )
        require_urls(settings, "run")
        if settings.exporter_port == 0:
            settings = settings.model_copy(update={"exporter_port": free_port()})
        asyncio.run(create_topics(settings))
        children = [_spawn("worker", settings), _spawn("exporter", settings)]
        for child in children:
            stack.callback(stop_process, child)
        traffic = f" (simulated traffic at {rate:g} events/s, scenario {scenario})" if simulate else ""
        print(
            f"pulse run: Kafka {settings.kafka_url}, Redis {_mask(settings.redis_url or '')}\n"
            f"pulse run: metrics at {metrics_url(settings)}{traffic}\n"
            "pulse run: Ctrl-C stops everything",
            flush=True,
        )
        try:
            if simulate:
                plan = Plan(rate, scenario=scenario, scenario_at_s=scenario_at_s)
                asyncio.run(_simulate_while_alive(settings, plan, children))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            print("pulse run: a child process exited; stopping", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\npulse run: stopping…", flush=True)
            return 0


async def _simulate_while_alive(
    settings: Settings, plan: Plan, children: list[subprocess.Popen[bytes]]
) -> None:
    from streams.simulation.run import simulate

    task = asyncio.create_task(simulate(settings, plan))
    while all(child.poll() is None for child in children) and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.5)  # polling children: there is no event to wait on
    if task.done() and task.exception() is not None:
        print(f"pulse run: the simulator stopped: {task.exception()}", file=sys.stderr)
    task.cancel()


def metrics_url(settings: Settings) -> str:
    """Where this host reaches the exporter: loopback when it binds every address.

    >>> metrics_url(Settings(exporter_host="0.0.0.0", exporter_port=9650))
    'http://127.0.0.1:9650/metrics'
    """
    host = settings.exporter_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.exporter_port}/metrics"


def top(
    settings: Settings, url: str | None, window: str | None, prop: str | None, interval_s: float, once: bool
) -> int:
    """`pulse top`: one screen (`once`), or a refreshing one until Ctrl-C."""
    from streams.top import live

    url = url or metrics_url(settings)
    window = window or settings.window_list[0].label
    if once:
        return live.once(url, window, prop, sys.stdout, shutil.get_terminal_size().columns)
    return live.watch(url, window, prop, interval_s, sys.stdout)


def rebuild_state(settings: Settings, wait_s: float, replay: bool) -> int:
    """Wipe derived state and bump the group epoch; with `replay`, run a worker until caught up."""
    from streams.rebuild import rebuild, wait_caught_up

    deleted, epoch = asyncio.run(rebuild(settings, wait_s))
    print(
        f"pulse rebuild: deleted {deleted} keys; workers now join a fresh consumer group (epoch {epoch}) "
        "and replay every topic from its beginning"
    )
    if not replay:
        print("pulse rebuild: start `pulse worker` to replay")
        return 0
    child = _spawn("worker", settings)
    try:
        started = time.monotonic()
        done = asyncio.run(wait_caught_up(settings, timeout_s=24 * 3600))
        print(f"pulse rebuild: replayed in {time.monotonic() - started:.1f} s" if done else "timed out")
        return 0 if done else 1
    finally:
        stop_process(child)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def worker(settings: Settings) -> int:
    from streams.worker import run_worker

    run_worker(settings)
    return 0


def exporter(settings: Settings) -> int:
    from streams.exporter import run_exporter

    run_exporter(settings)
    return 0


def gateway(settings: Settings) -> int:
    from streams.gateway import run_gateway

    run_gateway(settings)
    return 0


async def produce_file(settings: Settings, path: str) -> int:
    from streams.produce import produce

    handle = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115, ASYNC230
    with handle:  # read line by line as it is sent; a blocking read of a local file is brief
        report = await produce(settings, handle)
    for number, why in report.rejected[:50]:
        print(f"line {number}: rejected ({why})", file=sys.stderr)
    sent = ", ".join(f"{n} to {t}" for t, n in sorted(report.sent.items())) or "nothing"
    print(f"pulse produce: sent {sent}; {len(report.rejected)} line(s) rejected")
    return 1 if report.rejected else 0


async def simulate_traffic(settings: Settings, plan: Plan) -> int:
    """Send simulated traffic with a progress bar on stderr; the summary also after Ctrl-C."""
    from streams.simulation.run import ProgressBar, Tally, simulate

    tally, bar = Tally(plan), ProgressBar()
    try:
        await simulate(settings, plan, tally, bar)
    finally:
        bar.close(tally)
    return 0


def simulate_to_file(path: str, plan: Plan) -> int:
    """Write simulated traffic as JSON Lines (`-`: standard output), its times ending now."""
    from streams.simulation.run import write_jsonl

    if plan.duration_s is None and plan.count is None:
        raise ConfigError("`pulse simulate --output` needs --duration or --count")
    handle = sys.stdout.buffer if path == "-" else Path(path).open("wb")  # noqa: SIM115
    with handle:
        tally = write_jsonl(handle, plan)
    print(f"pulse simulate: wrote {tally.summary()}", file=sys.stderr)
    return 0


async def check(settings: Settings, create_topics: bool = False) -> int:
    """Settings, Kafka (topics and partitions) and Redis (version, functions); exit 1 on trouble."""
    problems: list[str] = []
    assert settings.kafka_url and settings.redis_url
    print(
        f"settings: windows {settings.windows}, topic prefix {settings.topic_prefix!r}, "
        f"partitions {settings.partitions}, de-dup horizon {settings.dedup_horizon}"
    )
    print(_gateway_summary(settings))
    print(f"kafka security: {describe(settings)}")
    plan = topic_plan(settings)
    try:
        bootstrap, security = kafka_bootstrap(settings.kafka_url), client_options(settings)
        if create_topics:
            await ensure_topics(bootstrap, plan, security=security)
        meta = await cluster_metadata(bootstrap, list(plan), security)
        print(f"kafka: {settings.kafka_url} cluster {meta.cluster_id}")
        for topic in plan:
            found = meta.topics.get(topic)
            count = found.partitions if found else 0
            print(f"  {topic}: {count or 'MISSING'} partition(s)")
            if not count:
                problems.append(f"topic {topic} is missing (run `pulse check --create-topics`)")
    except PulseError as exc:
        problems.append(f"kafka: {exc}")
    store = RedisStore(settings.redis_url, namespace(settings.topic_prefix))
    try:
        await store.setup()
        print(f"redis: {_mask(settings.redis_url)} reachable, functions loaded")
    except PulseError as exc:
        problems.append(f"redis: {exc}")
    finally:
        await store.close()
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print("check: OK" if not problems else f"check: {len(problems)} problem(s)")
    return 1 if problems else 0


def _gateway_summary(settings: Settings) -> str:
    """The gateway's settings with every secret masked: `set (***)` or `not set`."""

    def secret(value: SecretStr | None) -> str:
        return "not set" if value is None else "set (***)"

    return (
        f"gateway: {settings.gateway_host}:{settings.gateway_port}, max body {settings.gateway_max_bytes} B, "
        f"token {secret(settings.gateway_token)}"
        + (" (POST /v1/events is OPEN)" if settings.gateway_token is None else "")
        + f", sendgrid key {secret(settings.sendgrid_public_key)}, segment secret "
        f"{secret(settings.segment_secret)}, stripe secret {secret(settings.stripe_secret)}"
    )


def _mask(url: str) -> str:
    """Hide a password in a URL: redis://:secret@host -> redis://:***@host."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
