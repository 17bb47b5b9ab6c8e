"""The `pulse` command: run, worker, exporter, gateway, produce, simulate, check."""

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
    run.add_argument("--simulate", action="store_true", help="feed synthetic web traffic")
    run.add_argument("--rate", type=float, default=200.0, help="simulated events/s")
    sub.add_parser("worker", parents=[common], help="consume the topics into Redis")
    sub.add_parser("exporter", parents=[common], help="serve /metrics from Redis")
    sub.add_parser(
        "gateway", parents=[common], help="HTTP in (events, vendor webhooks), Kafka out; see docs/gateway.md"
    )
    produce = sub.add_parser("produce", parents=[common], help="send JSON Lines to the right topics")
    produce.add_argument("file", help="a JSON Lines file, or - for standard input")
    simulate = sub.add_parser("simulate", parents=[common], help="send synthetic web traffic")
    simulate.add_argument("--rate", type=float, default=200.0, help="events per second")
    simulate.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    simulate.add_argument("--count", type=int, default=None, help="stop after this many events")
    simulate.add_argument("--seed", type=int, default=None, help="reproducible traffic")
    rebuild = sub.add_parser(
        "rebuild", parents=[common], help="wipe derived state; workers then replay every topic from the start"
    )
    rebuild.add_argument("--wait", type=float, default=15.0, help="seconds to wait for workers to stop")
    rebuild.add_argument("--replay", action="store_true", help="also run a worker until it has caught up")
    check = sub.add_parser("check", parents=[common], help="check settings and connectivity")
    check.add_argument("--create-topics", action="store_true", help="create missing topics")
    return parser


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
        return commands.run(settings, simulate=args.simulate, rate=args.rate)
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
        return asyncio.run(
            commands.simulate_traffic(settings, args.rate, args.duration, args.count, args.seed)
        )
    if args.command == "rebuild":
        return commands.rebuild_state(settings, args.wait, args.replay)
    return asyncio.run(commands.check(settings, create_topics=args.create_topics))


if __name__ == "__main__":
    sys.exit(main())
