"""`pulse gateway` wiring: the URL it needs, secrets passed to children but never printed."""

from __future__ import annotations

import pytest

from metrics_core.settings import Settings
from streams.cli import _parser, main, settings_from
from streams.commands import _gateway_summary, settings_env

SECRETS = {
    "gateway_token": "tok-123",
    "segment_secret": "seg-456",
    "stripe_secret": "whsec_789",
    "sendgrid_public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
}


def test_gateway_needs_the_kafka_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PULSE_KAFKA_URL", raising=False)
    assert main(["gateway"]) == 1
    assert "PULSE_KAFKA_URL" in capsys.readouterr().err


def test_flags() -> None:
    args = _parser().parse_args(["gateway", "--gateway-port", "9000", "--gateway-host", "127.0.0.1"])
    settings = settings_from(args)
    assert (settings.gateway_host, settings.gateway_port) == ("127.0.0.1", 9000)


def test_secrets_are_masked_in_check_and_repr() -> None:
    settings = Settings(**SECRETS)
    shown = _gateway_summary(settings) + repr(settings) + str(settings)
    for secret in SECRETS.values():
        assert secret not in shown
    assert "token set (***)" in _gateway_summary(settings)
    assert "OPEN" in _gateway_summary(Settings())


def test_children_get_the_secrets_themselves() -> None:
    env = settings_env(Settings(**SECRETS))
    assert {name: env[f"PULSE_{name.upper()}"] for name in SECRETS} == SECRETS
    assert "PULSE_GATEWAY_TOKEN" not in settings_env(Settings())


def test_conversion_list() -> None:
    assert Settings(segment_conversions=" Signed Up , ,Trial Started").segment_conversion_list == {
        "Signed Up",
        "Trial Started",
    }
