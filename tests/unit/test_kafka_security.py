"""Kafka security settings: validation, the flags, and the mapping to aiokafka and Faust (no broker).

tests/integration/test_kafka_security.py runs the same settings against a real broker.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiokafka.conn
import pytest
from aiokafka.errors import SaslAuthenticationFailed
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from metrics_core.errors import ConfigError
from metrics_core.settings import Settings
from streams import cli
from streams.app import create_app
from streams.kafka_security import (
    broker_credentials,
    client_options,
    describe,
    login_target,
    ssl_context,
)
from tests.certs import Pki, make_pki

PASSWORD = "s3cret-Kafka-pw"
SCRAM = {
    "kafka_security_protocol": "SASL_PLAINTEXT",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "pulse",
    "kafka_sasl_password": PASSWORD,
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls(pki: Pki, protocol: str = "SSL", **more: Any) -> Settings:
    sasl = (
        {k: v for k, v in SCRAM.items() if k != "kafka_security_protocol"} if protocol == "SASL_SSL" else {}
    )
    return Settings(kafka_security_protocol=protocol, kafka_ssl_cafile=str(pki.ca), **sasl, **more)


# --- settings


def test_plaintext_is_the_default() -> None:
    settings = Settings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(settings) is None


def test_protocol_and_mechanism_are_read_in_any_case() -> None:
    settings = Settings(
        **{**SCRAM, "kafka_security_protocol": "sasl_ssl", "kafka_sasl_mechanism": "scram-sha-256"}
    )
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-256")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL"},
            "PULSE_KAFKA_SASL_MECHANISM, PULSE_KAFKA_SASL_USERNAME and",
        ),
        ({**SCRAM, "kafka_sasl_password": None}, "needs PULSE_KAFKA_SASL_PASSWORD"),
        ({**SCRAM, "kafka_sasl_username": ""}, "needs PULSE_KAFKA_SASL_USERNAME"),
        ({**SCRAM, "kafka_sasl_mechanism": None}, "needs PULSE_KAFKA_SASL_MECHANISM"),
        ({"kafka_sasl_username": "pulse"}, "PULSE_KAFKA_SASL_USERNAME set but PULSE_KAFKA_SECURITY_PROTOCOL"),
        ({**SCRAM, "kafka_security_protocol": "SSL"}, "does not use SASL"),
        ({"kafka_ssl_cafile": "/etc/ca.pem"}, "PULSE_KAFKA_SSL_CAFILE set but PULSE_KAFKA_SECURITY_PROTOCOL"),
        ({**SCRAM, "kafka_ssl_cafile": "/etc/ca.pem"}, "SASL_PLAINTEXT does not use TLS"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/k.pem"},
            "PULSE_KAFKA_SSL_KEYFILE needs PULSE_KAFKA_SSL_CERTFILE",
        ),
    ],
)
def test_inconsistent_settings_are_refused_naming_the_variable(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings(**fields)


def test_an_unknown_protocol_is_a_validation_error() -> None:
    with pytest.raises(ValueError, match="PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or 'SASL_SSL'"):
        Settings(kafka_security_protocol="TLS")


def test_the_password_is_secret() -> None:
    settings = Settings(**SCRAM)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert PASSWORD not in describe(settings)


def test_the_environment_and_the_flags(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    monkeypatch.setenv("PULSE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PULSE_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("PULSE_KAFKA_SASL_USERNAME", "from-env")
    monkeypatch.setenv("PULSE_KAFKA_SASL_PASSWORD", PASSWORD)
    args = cli._parser().parse_args(
        ["check", "--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-username", "from-flag",
         "--kafka-ssl-cafile", str(pki.ca), "--kafka-ssl-certfile", str(pki.client_cert),
         "--kafka-ssl-keyfile", str(pki.client_key)]
    )  # fmt: skip
    settings = cli.settings_from(args)
    assert settings.kafka_security_protocol == "SASL_SSL"  # from the environment
    assert (settings.kafka_sasl_mechanism, settings.kafka_sasl_username) == ("SCRAM-SHA-256", "from-flag")
    assert settings.kafka_ssl_certfile == str(pki.client_cert)
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == PASSWORD


def test_the_password_has_no_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """A command line is visible to every user of the machine (ps)."""
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["check", "--kafka-sasl-password", PASSWORD])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_cli_reports_inconsistent_settings_as_a_pulse_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PULSE_KAFKA_SASL_PASSWORD", PASSWORD)
    assert cli.main(["check", "--kafka-security-protocol", "SASL_SSL", "--kafka-sasl-username", "u"]) == 1
    err = capsys.readouterr().err
    assert "pulse check: PULSE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs PULSE_KAFKA_SASL_MECHANISM" in err
    assert PASSWORD not in err


# --- settings -> aiokafka keyword arguments


def test_sasl_plaintext_scram() -> None:
    assert client_options(Settings(**SCRAM)) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pulse",
        "sasl_plain_password": PASSWORD,
    }


def test_ssl_verifies_the_broker_against_the_given_ca(pki: Pki) -> None:
    options = client_options(_tls(pki))
    assert set(options) == {"security_protocol", "ssl_context"} and options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(item[0] for item in ca["subject"]) for ca in context.get_ca_certs()] == [
        {"commonName": "pulse test CA"}
    ]


def test_ssl_without_a_cafile_trusts_the_system_cas() -> None:
    context = client_options(Settings(kafka_security_protocol="SSL"))["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_ssl_has_both(pki: Pki) -> None:
    options = client_options(_tls(pki, "SASL_SSL"))
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pulse",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_a_client_certificate_is_loaded(pki: Pki, tmp_path: Path) -> None:
    mutual = _tls(pki, kafka_ssl_certfile=str(pki.client_cert), kafka_ssl_keyfile=str(pki.client_key))
    assert isinstance(ssl_context(mutual), ssl.SSLContext)
    other = make_pki(tmp_path / "other")  # a key that does not belong to the certificate
    with pytest.raises(ConfigError, match=r"cannot use the TLS files .*PULSE_KAFKA_SSL_KEYFILE="):
        ssl_context(
            _tls(pki, kafka_ssl_certfile=str(pki.client_cert), kafka_ssl_keyfile=str(other.client_key))
        )


def test_a_missing_file_is_named(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"PULSE_KAFKA_SSL_CERTFILE={tmp_path}/nope.pem: no such file"):
        client_options(_tls(pki, kafka_ssl_certfile=str(tmp_path / "nope.pem")))


def test_an_encrypted_key_is_refused_without_a_prompt(tmp_path: Path) -> None:
    """OpenSSL would ask on the terminal for the passphrase; a service has none."""
    pki = make_pki(tmp_path, key_passphrase=b"pass")
    with pytest.raises(ConfigError, match="PULSE_KAFKA_SSL_KEYFILE is encrypted"):
        ssl_context(_tls(pki, kafka_ssl_certfile=str(pki.client_cert), kafka_ssl_keyfile=str(pki.client_key)))


# --- settings -> Faust's broker_credentials -> the same aiokafka arguments


def test_faust_credentials_per_protocol(pki: Pki) -> None:
    sasl = broker_credentials(Settings(**SCRAM))
    assert isinstance(sasl, SASLCredentials)
    assert (sasl.protocol.value, sasl.mechanism.value, sasl.username, sasl.password, sasl.ssl_context) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        "pulse",
        PASSWORD,
        None,
    )
    assert PASSWORD not in repr(sasl)
    sasl_ssl = broker_credentials(_tls(pki, "SASL_SSL"))
    assert isinstance(sasl_ssl, SASLCredentials) and sasl_ssl.protocol.value == "SASL_SSL"
    assert isinstance(sasl_ssl.ssl_context, ssl.SSLContext)
    tls = broker_credentials(_tls(pki))
    assert isinstance(tls, SSLCredentials) and tls.protocol.value == "SSL"


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_faust_maps_its_credentials_back_to_our_arguments(protocol: str, pki: Pki) -> None:
    if protocol == "PLAINTEXT":
        settings = Settings()
    elif protocol == "SASL_PLAINTEXT":
        settings = Settings(**SCRAM)
    else:
        settings = _tls(pki, protocol)
    faust_side = credentials_to_aiokafka_auth(broker_credentials(settings))
    ours = client_options(settings)
    assert {k: v for k, v in faust_side.items() if v is not None and k != "ssl_context"} == {
        k: v for k, v in ours.items() if k != "ssl_context"
    }
    assert ("ssl_context" in ours) == isinstance(faust_side.get("ssl_context"), ssl.SSLContext)


async def test_the_worker_app_consumer_and_producer_get_the_credentials() -> None:
    """Through the `pulse://` transport (streams/transport.py) to the aiokafka clients Faust makes."""
    settings = Settings(kafka_url="kafka://127.0.0.1:1", redis_url="redis://127.0.0.1:1/0", **SCRAM)
    app = create_app(settings)
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    producer = app.producer._new_producer()
    try:
        for client in (consumer._client, producer.client):
            assert (
                client._security_protocol,
                client._sasl_mechanism,
                client._sasl_plain_username,
                client._sasl_plain_password,
            ) == ("SASL_PLAINTEXT", "SCRAM-SHA-512", "pulse", PASSWORD)
    finally:
        await consumer.stop()
        await producer.stop()


# --- error messages


def test_login_target() -> None:
    assert login_target(client_options(Settings(**SCRAM))) == "SCRAM-SHA-512 login of user pulse"
    assert login_target({"security_protocol": "SSL"}) == "SSL connection"


def test_describe_names_protocol_mechanism_user_and_files_never_the_password(pki: Pki) -> None:
    assert describe(Settings()) == "PLAINTEXT (no authentication, no encryption)"
    assert describe(Settings(**SCRAM)) == "SASL_PLAINTEXT, SCRAM-SHA-512 as user pulse (password set)"
    mutual = _tls(pki, "SASL_SSL", kafka_ssl_certfile="/c.pem", kafka_ssl_keyfile="/k.pem")
    assert describe(mutual) == (
        f"SASL_SSL, SCRAM-SHA-512 as user pulse (password set), CA {pki.ca}, client certificate /c.pem"
    )


def _scram_client() -> Any:
    """aiokafka's SCRAM client at the state of RFC 7677's example (user, pencil, its nonce)."""
    client = aiokafka.conn.ScramAuthenticator(
        loop=None, sasl_plain_password="pencil", sasl_plain_username="user", sasl_mechanism="SCRAM-SHA-256"
    )
    client._nonce = "rOprNGfwEbeRWgbNEkqO"
    assert client.first_message() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    client.process_server_first_message(
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    assert client.final_message() == (
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    return client


def test_a_scram_server_error_is_a_sasl_failure_not_a_key_error() -> None:
    """aiokafka read `e=invalid-proof` (a wrong password) as `KeyError: 'v'`; RFC 5802 §7."""
    with pytest.raises(SaslAuthenticationFailed, match="invalid-proof"):
        _scram_client().process_server_final_message("e=invalid-proof")


def test_a_scram_login_still_verifies_the_server() -> None:
    _scram_client().process_server_final_message("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    with pytest.raises(ValueError, match="wrong signature"):
        _scram_client().process_server_final_message("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_pulse_run_with_the_embedded_broker_refuses_security_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded Tansu speaks PLAINTEXT only; nothing is started."""
    from streams import commands

    monkeypatch.setattr(commands.signal, "signal", lambda *args: None)
    monkeypatch.setattr(commands, "EmbeddedKafka", lambda: pytest.fail("the broker was started"))
    with pytest.raises(ConfigError, match="embedded broker speaks PLAINTEXT only: give PULSE_KAFKA_URL"):
        commands.run(Settings(**SCRAM))
