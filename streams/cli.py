"""The `pulse` command: run, worker, exporter, gateway, produce, simulate, rebuild, check, top."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from metrics_core.errors import PulseError
from metrics_core.settings import Settings
from streams.simulation.plan import Plan
from streams.simulation.scenarios import FAMILIES as SIM_FAMILIES
from streams.simulation.scenarios import SCENARIOS

# flag -> settings field; a flag given on the command line wins over the environment
_FLAGS = {
    "--kafka-url": "kafka_url",
    "--redis-url": "redis_url",
    "--topic-prefix": "topic_prefix",
    "--windows": "windows",
    "--exporter-host": "exporter_host",
    "--exporter-port": "exporter_port",
    "--gateway-host": "gateway_host",
    "--gateway-port": "gateway_port",
    "--partitions": "partitions",
    "--dedup-horizon": "dedup_horizon",
    "--label-cap": "label_cap",
    "--app-id": "app_id",
    # Kafka security (docs/security.md); the SASL password has no flag: a command line is
    # visible to every user of the machine (ps), so it comes from PULSE_KAFKA_SASL_PASSWORD only
    "--kafka-security-protocol": "kafka_security_protocol",
    "--kafka-sasl-mechanism": "kafka_sasl_mechanism",
    "--kafka-sasl-username": "kafka_sasl_username",
    "--kafka-ssl-cafile": "kafka_ssl_cafile",
    "--kafka-ssl-certfile": "kafka_ssl_certfile",
    "--kafka-ssl-keyfile": "kafka_ssl_keyfile",
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    for flag, name in _FLAGS.items():
        common.add_argument(flag, dest=name, default=None, help=f"overrides PULSE_{name.upper()}")
    parser = argparse.ArgumentParser(prog="pulse", description="Live customer-engagement metrics.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        parents=[common],
        help="everything in one command (embedded broker and Redis without URLs)",
    )
    run.add_argument("--simulate", action="store_true", help="feed simulated traffic of every family")
    run.add_argument("--rate", type=_positive, default=200.0, help="simulated events/s")
    _scenario_flags(run)
    sub.add_parser("worker", parents=[common], help="consume the topics into Redis")
    sub.add_parser("exporter", parents=[common], help="serve /metrics from Redis")
    sub.add_parser(
        "gateway", parents=[common], help="HTTP in (events, vendor webhooks), Kafka out; see docs/gateway.md"
    )
    produce = sub.add_parser("produce", parents=[common], help="send JSON Lines to the right topics")
    produce.add_argument("file", help="a JSON Lines file, or - for standard input")
    simulate = sub.add_parser(
        "simulate", parents=[common], help="send realistic traffic of every family; see docs/simulate.md"
    )
    simulate.add_argument("--rate", type=_positive, default=200.0, help="events per second (steady)")
    simulate.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    simulate.add_argument("--count", type=int, default=None, help="stop after this many events")
    simulate.add_argument("--seed", type=int, default=None, help="reproducible traffic")
    _scenario_flags(simulate)
    simulate.add_argument(
        "--families",
        type=_families,
        default=SIM_FAMILIES,
        help=f"comma-separated, of {','.join(SIM_FAMILIES)} (default: all)",
    )
    simulate.add_argument(
        "--output",
        metavar="FILE|-",
        default=None,
        help="write JSON Lines ending now instead of sending (replay them with `pulse produce`)",
    )
    rebuild = sub.add_parser(
        "rebuild", parents=[common], help="wipe derived state; workers then replay every topic from the start"
    )
    rebuild.add_argument("--wait", type=float, default=15.0, help="seconds to wait for workers to stop")
    rebuild.add_argument("--replay", action="store_true", help="also run a worker until it has caught up")
    check = sub.add_parser("check", parents=[common], help="check settings and connectivity")
    check.add_argument("--create-topics", action="store_true", help="create missing topics")
    _top_flags(sub.add_parser("top", help="live terminal view of the key gauges, read from the exporter"))
    return parser


def _top_flags(top: argparse.ArgumentParser) -> None:
    for flag in ("--exporter-host", "--exporter-port", "--windows"):  # the settings `top` reads
        top.add_argument(
            flag, dest=_FLAGS[flag], default=None, help=f"overrides PULSE_{_FLAGS[flag].upper()}"
        )
    top.add_argument(
        "--url",
        default=None,
        help="the exporter's metrics (default: http://127.0.0.1:<PULSE_EXPORTER_PORT>/metrics)",
    )
    top.add_argument("--window", default=None, help="e.g. 5m (default: the shortest of PULSE_WINDOWS)")
    top.add_argument(
        "--property",
        dest="prop",
        metavar="NAME",
        default=None,
        help="the property shown (default: `default` when served, else the busiest property)",
    )
    top.add_argument("--interval", type=_positive, default=2.0, help="seconds between refreshes (default 2)")
    top.add_argument("--once", action="store_true", help="print one screen without clearing it and exit")


def _scenario_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        default="steady",
        help="; ".join(f"{s.name}: {s.summary}" for s in SCENARIOS.values()).replace("%", "%%"),
    )
    parser.add_argument(
        "--scenario-at",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds after the start when the scenario takes over (default 0: at once)",
    )


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _families(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SIM_FAMILIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown families {unknown}: choose from {','.join(SIM_FAMILIES)}")
    return names


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        name: getattr(args, name) for name in _FLAGS.values() if getattr(args, name, None) is not None
    }
    return Settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from(args)
        return _dispatch(args, settings)
    except ValidationError as exc:
        print(f"pulse: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    except PulseError as exc:
        print(f"pulse {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from streams import commands  # late: keeps `pulse --help` fast

    if args.command == "run":
        return commands.run(settings, args.simulate, args.rate, args.scenario, args.scenario_at)
    if args.command == "top":
        return commands.top(settings, args.url, args.window, args.prop, args.interval, args.once)
    if args.command == "simulate" and args.output is not None:
        return commands.simulate_to_file(args.output, _simulation(args))
    commands.require_urls(settings, args.command)
    if args.command == "worker":
        return commands.worker(settings)
    if args.command == "exporter":
        return commands.exporter(settings)
    if args.command == "gateway":
        return commands.gateway(settings)
    if args.command == "produce":
        return asyncio.run(commands.produce_file(settings, args.file))
    if args.command == "simulate":
        return asyncio.run(commands.simulate_traffic(settings, _simulation(args)))
    if args.command == "rebuild":
        return commands.rebuild_state(settings, args.wait, args.replay)
    return asyncio.run(commands.check(settings, create_topics=args.create_topics))


def _simulation(args: argparse.Namespace) -> Plan:
    seed = {} if args.seed is None else {"seed": args.seed}  # none given: the plan draws one
    return Plan(
        args.rate,
        args.duration,
        args.count,
        **seed,
        scenario=args.scenario,
        scenario_at_s=args.scenario_at,
        families=args.families,
    )


if __name__ == "__main__":
    sys.exit(main())
