"""The harness's results as Markdown tables (printed, and pasted into BENCHMARKS.md) and target checks."""

from __future__ import annotations

from typing import Any

from bench.freshness import TARGET_P99_S
from bench.scrape import TARGET_MS
from bench.twoworkers import TARGET as TWO_WORKERS_TARGET

WORKER_VS_RAW = 0.25


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "–" if value is None else format(value, spec)


def throughput_table(layers: list[dict[str, Any]]) -> str:
    raw = {x["data"]: x for x in layers if x["layer"].startswith("raw")}
    lines = [
        "| layer | data | events | events/s | CPU µs/event | Redis round trips/event "
        "| Redis commands/event | rate ÷ raw |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in layers:
        base = raw.get(x["data"])
        ratio = x["events_per_s"] / base["events_per_s"] if base else None
        lines.append(
            f"| {x['layer']} | {x['data']} | {x['events']:,} | {_fmt(x['events_per_s'])} "
            f"| {_fmt(x['cpu_us_per_event'], '.1f')} | {_fmt(x['redis_round_trips_per_event'], '.4f')} "
            f"| {_fmt(x.get('redis_commands_per_event'), '.2f')} "
            f"| {_fmt(ratio, '.3f')} |"
        )
    return "\n".join(lines)


def freshness_table(found: dict[str, Any]) -> str:
    lines = [
        f"max sustainable rate: {found['max_rate']:,.0f} events/s; /metrics scraped every "
        f"{next(iter(found['loads'].values()), {}).get('every_s', 0):g} s, Redis probed every 0.05 s",
        "",
        "| load | events/s (achieved) | kept up | markers | /metrics p50 s | p99 s | max s | missing "
        "| Redis-visible p50 s | p99 s | scrape s | worker µs/event | producer µs/event |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for load, x in found["loads"].items():
        r = x["redis"]
        lines.append(
            f"| {load} | {x['target_rate']:,.0f} ({x['achieved_rate']:,.0f}) "
            f"| {'yes' if x['live_before_markers'] else 'no'} | {x['markers']} "
            f"| {_fmt(x['p50_s'], '.2f')} | {_fmt(x['p99_s'], '.2f')} | {_fmt(x['max_s'], '.2f')} "
            f"| {x['missing']} | {_fmt(r['p50_s'], '.2f')} | {_fmt(r['p99_s'], '.2f')} "
            f"| {x['probe_p50_s']:.3f} | {x['worker_cpu_us_per_event']:.0f} "
            f"| {x['producer_cpu_us_per_event']:.0f} |"
        )
    return "\n".join(lines)


def catchup_text(x: dict[str, Any]) -> str:
    scaled = " (scaled down from 5 min: quick mode)" if x["scaled_down"] else ""
    after = [
        f"first event applied after {_fmt(x['join_delay_s'], '.1f')} s",
        f"backlog drained after {_fmt(x['drain_s'], '.1f')} s",
        f"lag < 1 s of traffic after {_fmt(x['catch_up_s'], '.1f')} s",
    ]
    caught = (
        ""
        if x["catch_up_s"] is not None
        else (
            f"; NOT caught up within {x['budget_s']:.0f} s (lag {x['lag_at_end_events']:,} events at the end)"
        )
    )
    return (
        f"outage {x['outage_s']:.0f} s{scaled} at {x['rate']:,.0f} events/s (achieved "
        f"{x['achieved_rate']:,.0f}): backlog {x['backlog_events']:,} events; after the restart: "
        f"{', '.join(after)} (processing {x['catch_up_rate']:,.0f} events/s while catching up){caught}"
    )


def scrape_table(found: dict[str, Any]) -> str:
    lines = [
        "| series | properties | GET /metrics p50 ms | max ms | collector alone p50 ms "
        "| Redis bytes/series |",
        "|---|---|---|---|---|---|",
    ]
    for x in found.values():
        lines.append(
            f"| {x['series']:,} | {x['properties']} | {x['http_p50_ms']:.0f} | {x['http_max_ms']:.0f} "
            f"| {x['collector_p50_ms']:.0f} | {x['bytes_per_series']:,.0f} |"
        )
    return "\n".join(lines)


def memory_table(found: dict[str, Any]) -> str:
    lines = [
        "| data | events measured | MiB per million events (extrapolated) | bytes/event |",
        "|---|---|---|---|",
    ]
    for data, x in found["per_million_events"].items():
        lines.append(
            f"| {data} | {x['events_measured']:,} | {x['mib_per_million_events']:.1f} "
            f"| {x['bytes_per_event']:.0f} |"
        )
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met) — met is None when the part did not run."""
    layers = results.get("layers", [])
    raw = next((x for x in layers if x["layer"].startswith("raw") and x["data"] == "web"), None)
    web = next((x for x in layers if x["layer"].startswith("pulse worker, web")), None)
    two = next((x for x in layers if x["layer"].startswith("pulse worker ×2")), None)
    out: list[tuple[str, str, bool | None]] = []
    if raw and web:
        ratio = web["events_per_s"] / raw["events_per_s"]
        out.append((f"pulse worker ≥ {WORKER_VS_RAW} × raw (web)", f"{ratio:.3f} ×", ratio >= WORKER_VS_RAW))
    else:
        out.append((f"pulse worker ≥ {WORKER_VS_RAW} × raw (web)", "not run", None))
    fresh = (results.get("freshness") or {}).get("loads", {}).get("50%")
    if fresh and fresh["p99_s"] is not None:
        met = fresh["p99_s"] <= TARGET_P99_S and not fresh["missing"]
        out.append((f"freshness p99 ≤ {TARGET_P99_S:g} s at 50 %", f"{fresh['p99_s']:.2f} s", met))
    else:
        out.append((f"freshness p99 ≤ {TARGET_P99_S:g} s at 50 %", "not run", None))
    scrape = (results.get("scrape") or {}).get("10000")
    if scrape:
        met = scrape["http_p50_ms"] <= TARGET_MS
        shown = f"{scrape['http_p50_ms']:.0f} ms at {scrape['series']:,} series"
        out.append((f"scrape ≤ {TARGET_MS:g} ms at 10k series", shown, met))
    else:
        out.append((f"scrape ≤ {TARGET_MS:g} ms at 10k series", "not run", None))
    if two and web:
        ratio = two["events_per_s"] / web["events_per_s"]
        out.append(
            (f"two workers ≥ {TWO_WORKERS_TARGET} × one", f"{ratio:.2f} ×", ratio >= TWO_WORKERS_TARGET)
        )
    else:
        out.append((f"two workers ≥ {TWO_WORKERS_TARGET} × one", "not run", None))
    return out


def render(results: dict[str, Any]) -> str:
    parts = []
    if results.get("layers"):
        parts += [
            "Throughput (steady window: from 10 % to 90 % of the events each layer handled)",
            throughput_table(results["layers"]),
        ]
    if results.get("freshness"):
        parts += ["Freshness (event produced → visible in /metrics, open-loop producer)"]
        parts += [freshness_table(results["freshness"])]
    if results.get("catchup"):
        parts += ["Catch-up", catchup_text(results["catchup"])]
    if results.get("scrape"):
        parts += ["Scrape", scrape_table(results["scrape"])]
    if results.get("memory", {}).get("per_million_events"):
        parts += ["Redis memory", memory_table(results["memory"])]
    lines = [
        f"- {name}: {shown} — {'met' if met else 'NOT met' if met is False else 'not measured'}"
        for name, shown, met in targets(results)
    ]
    parts += ["Targets", "\n".join(lines)]
    if results.get("errors"):
        parts += ["Errors", "\n".join(f"- {k}: {v}" for k, v in results["errors"].items())]
    return "\n\n".join(parts)
