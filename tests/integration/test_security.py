"""Security: Redis AUTH and TLS through the URL, secrets never logged, no personal data kept.

- A redis-server that takes TLS only (its own CA) and requires a password: the worker, the
  exporter, `pulse check` and `pulse rebuild`'s wipe all reach it through one
  `rediss://:<password>@host:port/0?ssl_ca_certs=<ca.pem>` URL.
- No secret (the Redis password, the gateway token, the webhook secrets) appears in any
  process's output.
- After an end-to-end run of events full of personal data (e-mail addresses in ids, pages,
  referrers; names in titles; free text), nothing of it is in any Redis key or value, nor in
  the scrape.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from metrics_core.settings import Settings
from metrics_core.store.redis_store import connect
from streams.commands import create_topics, settings_env
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import free_port, stop_process, wait_for_port
from tests.certs import make_pki
from tests.integration.harness import log_tail, pulse_process, samples, scrape, total, value, wait_for
from tests.integration.test_web_end_to_end import ACCEPTED, EXPECTED_1H, NOW_S, PART_ONE, PART_TWO
from tests.system.stack import rebased, send, system_settings

pytestmark = pytest.mark.integration

REDIS_SERVER = Path("/usr/bin/redis-server")
PASSWORD = "r3dis-Pa55-7f1c"
SECRETS = {
    "gateway_token": "gw-token-93ab17",
    "segment_secret": "seg-secret-55e0",
    "stripe_secret": "whsec_4c2b9e",
}


def _pem_pair(directory: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 signed by it; returns the CA's path."""
    return make_pki(directory).ca


def _tls_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """redis-server with TLS only and a password; returns the process and its `rediss://` URL."""
    ca, port = _pem_pair(directory), free_port()
    command = [
        str(REDIS_SERVER), "--port", "0", "--tls-port", str(port),
        "--tls-cert-file", str(directory / "server.pem"), "--tls-key-file", str(directory / "server.key"),
        "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--requirepass", PASSWORD,
        "--save", "", "--appendonly", "no", "--dir", str(directory),
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        stdout=(directory / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, 30, proc)
    return proc, f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"


def _pulse(command: list[str], settings: Settings) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", *command],
        env=settings_env(settings),
        capture_output=True,
        timeout=120,
    )
    return result.stdout.decode() + result.stderr.decode()


def test_redis_auth_and_tls_pass_through_and_no_secret_is_logged(
    kafka: EmbeddedKafka, topic_prefix: str, tmp_path: Path
) -> None:
    if not REDIS_SERVER.exists():
        pytest.fail("Debian's redis-server is needed (TLS build): run `make tools`", pytrace=False)
    proc, url = _tls_redis(tmp_path)
    try:
        assert "rediss://" in url
        plain = url.replace("rediss://", "redis://").split("?")[0]
        with pytest.raises(redis.ConnectionError):  # TLS only: a plain client gets nowhere
            redis.Redis.from_url(plain, socket_timeout=3).ping()
        with pytest.raises(redis.AuthenticationError):  # and the password is required
            connect(url.replace(PASSWORD, "wrong"), socket_timeout=3).ping()
        settings = system_settings(kafka.url, url, topic_prefix, **SECRETS)
        asyncio.run(create_topics(settings))
        topic, port = settings.topic("clickstream"), settings.exporter_port
        check = _pulse(["check"], settings)
        assert "reachable, functions loaded" in check and ":***@" in check, check
        with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
            asyncio.run(send(kafka.bootstrap, topic, rebased(PART_ONE + PART_TWO, NOW_S)))
            wait_for(
                lambda: total(samples(scrape(port)), "pulse_events_total") >= sum(ACCEPTED.values()),
                90,
                "every event, through TLS and AUTH",
                lambda: log_tail(tmp_path),
            )
            time.sleep(1.0)
            found = samples(scrape(port))
        for name, number in EXPECTED_1H.items():
            assert value(found, name, window="1h", property="shop") == pytest.approx(number), name
        rebuild = _pulse(["rebuild", "--wait", "30"], settings)
        assert "deleted" in rebuild, rebuild
        outputs = check + rebuild + "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
        for secret in (PASSWORD, *SECRETS.values()):
            assert secret not in outputs, f"a secret is in the output: {secret}"
    finally:
        stop_process(proc, grace_s=5)


# --- personal data


def _personal(now: int) -> dict[str, list[tuple[bytes | None, Any]]]:
    """Events carrying personal data wherever the schema lets a producer put it."""
    t = now - 60
    return {
        "clickstream": [
            (None, {"event_id": "p1", "type": "clickstream.page_view", "timestamp": t,
                    "page": "/account/ann.smith@example.com/settings?email=ann.smith@example.com&token=Zq81",
                    "user_id": "ann.smith@example.com", "anonymous_id": "device-ann-smith",
                    "title": "Ann Smith – Billing", "referrer": "https://mail.example.com/?to=ann.smith@example.com",
                    "user_agent": "Mozilla/5.0 (Ann Smith's iPhone)"}),
            (None, {"event_id": "p2", "type": "clickstream.conversion", "timestamp": t,
                    "goal": "signup", "user_id": "ann.smith@example.com", "value": 12}),
            (None, {"event_id": "p3", "type": "clickstream.feature_used", "timestamp": t,
                    "feature": "export", "user_id": "ann.smith@example.com"}),
        ],
        "email": [
            (None, {"event_id": "p4", "type": "email.sent", "timestamp": t, "message_id": "msg-for-bob",
                    "campaign_id": "welcome", "recipient_id": "bob.jones@example.org"}),
            (None, {"event_id": "p5", "type": "email.clicked", "timestamp": t + 1,
                    "message_id": "msg-for-bob", "campaign_id": "welcome",
                    "url": "https://shop.example.org/?who=bob.jones@example.org"}),
        ],
        "survey": [
            (None, {"event_id": "p6", "type": "survey.nps", "timestamp": t, "response_id": "resp-carol-white",
                    "score": 3, "survey_id": "onboarding"}),
        ],
        "customer": [
            (None, {"event_id": "p7", "type": "customer.subscription_started", "timestamp": t,
                    "customer_id": "carol.white@example.net", "plan": "pro"}),
            (None, {"event_id": "p8", "type": "customer.order_placed", "timestamp": t,
                    "order_id": "order-carol-1", "customer_id": "carol.white@example.net", "amount": 30}),
            (None, {"event_id": "p9", "type": "customer.event_registered", "timestamp": t,
                    "event_name": "launch", "attendee_id": "dave.black@example.com"}),
        ],
        "social": [
            (None, {"event_id": "p10", "type": "social.inbound_message", "timestamp": t, "platform": "x",
                    "conversation_id": "dm-with-erin-green"}),
        ],
    }  # fmt: skip


PERSONAL = (
    "example.com",
    "example.org",
    "example.net",
    "ann.smith",
    "Ann Smith",
    "device-ann-smith",
    "bob.jones",
    "msg-for-bob",
    "resp-carol-white",
    "carol.white",
    "order-carol",
    "dave.black",
    "erin-green",
    "token=Zq81",
    "iPhone",
)


def _stored(client: Any) -> str:
    """Every key and value in Redis (strings, hashes, sets, sorted sets), as one text."""
    parts: list[object] = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            parts += [key, client.get(key)]
        elif kind == b"hash":
            parts += [key, client.hgetall(key)]
        elif kind == b"set":
            parts += [key, client.smembers(key)]
        elif kind == b"zset":
            parts += [key, client.zrange(key, 0, -1)]
        else:
            parts += [key, kind]
    return repr(parts)


def test_no_personal_data_in_redis_or_in_the_scrape(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_prefix: str, tmp_path: Path
) -> None:
    settings = system_settings(kafka.url, redis_server.url, topic_prefix)
    asyncio.run(create_topics(settings))
    port = settings.exporter_port
    events = _personal(int(time.time()))
    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        for family, items in events.items():
            asyncio.run(send(kafka.bootstrap, settings.topic(family), items))
        wait_for(
            lambda: total(samples(scrape(port)), "pulse_events_total") >= sum(map(len, events.values())),
            90,
            "every event",
            lambda: log_tail(tmp_path),
        )
        time.sleep(1.0)
        text = scrape(port)
    client = redis.Redis.from_url(redis_server.url)
    try:
        stored = _stored(client)
    finally:
        client.close()
    assert "{pulse:" in stored and "pv" in stored  # the run did write its state
    for needle in PERSONAL:
        assert needle not in stored, f"personal data in Redis: {needle}"
        assert needle not in text, f"personal data in the scrape: {needle}"
