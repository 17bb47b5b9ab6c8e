"""Kafka security: the settings turned, once, into aiokafka's keyword arguments and Faust's credentials.

Every Kafka client Pulse makes gets its security from `client_options(settings)`: the
worker's DLQ/repartition producer, the gateway's, `pulse produce`'s and `simulate`'s
(streams/producer.py), the admin client (streams/kafka_admin.py), `pulse rebuild`'s consumer;
the worker's Faust app gets the same as `broker_credentials(settings)`, which Faust's
consumer and producer (and so the `pulse://` transport, streams/transport.py) turn back into
the same keyword arguments. The password is a `SecretStr` until it is handed to aiokafka.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import aiokafka.conn
import faust
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.metadata import MetadataRequest
from faust.types.auth import CredentialsT

from metrics_core.errors import ConfigError
from metrics_core.settings import Settings

KafkaOptions = Mapping[str, Any]  # aiokafka's security keyword arguments
PLAINTEXT: KafkaOptions = MappingProxyType({"security_protocol": "PLAINTEXT"})


def _no_key_passphrase() -> NoReturn:
    """Called by OpenSSL for an encrypted key; without it, OpenSSL would prompt on the terminal."""
    raise ConfigError(
        "PULSE_KAFKA_SSL_KEYFILE is encrypted: give Pulse an unencrypted key (keep it in a secret volume)"
    )


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (server verified, hostname checked); None otherwise."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    files = {
        "PULSE_KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "PULSE_KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "PULSE_KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
    }
    for name, path in files.items():
        if path and not Path(path).is_file():
            raise ConfigError(f"{name}={path}: no such file")
    try:
        return create_ssl_context(  # type: ignore[no-any-return]  # aiokafka ships no types
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
            password=_no_key_passphrase,
        )
    except (ssl.SSLError, ValueError) as exc:
        loaded = ", ".join(f"{name}={path}" for name, path in files.items() if path) or "system CAs"
        raise ConfigError(f"cannot use the TLS files ({loaded}): {exc}") from exc


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka's security keyword arguments for every client (consumer, producer, admin).

    >>> client_options(Settings(kafka_security_protocol="SASL_PLAINTEXT",
    ...     kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="pulse",
    ...     kafka_sasl_password="s3cret"))
    {'security_protocol': 'SASL_PLAINTEXT', 'sasl_mechanism': 'SCRAM-SHA-512',
     'sasl_plain_username': 'pulse', 'sasl_plain_password': 's3cret'}

    SSL adds `ssl_context` (from the CA, certificate and key files), SASL_SSL both.
    """
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # Settings refuses SASL without it
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    return options


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's `broker_credentials` for the same protocol; None for PLAINTEXT.

    Faust maps them back to aiokafka's arguments (`credentials_to_aiokafka_auth` in
    faust/transport/drivers/aiokafka.py): `SSLCredentials` -> SSL, `SASLCredentials` ->
    SASL_PLAINTEXT, or SASL_SSL when it carries an `ssl_context`.
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    assert settings.kafka_sasl_password is not None  # Settings refuses SASL without it
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,  # None for SASL_PLAINTEXT
    )


def describe(settings: Settings) -> str:
    """One line for `pulse check` and logs; never the password.

    >>> describe(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-256",
    ...     kafka_sasl_username="pulse", kafka_sasl_password="s3cret", kafka_ssl_cafile="/etc/ca.pem"))
    'SASL_SSL, SCRAM-SHA-256 as user pulse (password set), CA /etc/ca.pem'
    """
    protocol = settings.kafka_security_protocol
    parts = [protocol + (" (no authentication, no encryption)" if protocol == "PLAINTEXT" else "")]
    if protocol.startswith("SASL_"):
        parts.append(f"{settings.kafka_sasl_mechanism} as user {settings.kafka_sasl_username} (password set)")
    if protocol in ("SSL", "SASL_SSL"):
        parts.append(f"CA {settings.kafka_ssl_cafile or 'system'}")
        if settings.kafka_ssl_certfile:
            parts.append(f"client certificate {settings.kafka_ssl_certfile}")
    return ", ".join(parts)


def login_target(options: KafkaOptions) -> str:
    """What a refused connection was attempting, for error messages: 'SCRAM-SHA-512 login of user pulse'."""
    if "sasl_mechanism" in options:
        return f"{options['sasl_mechanism']} login of user {options.get('sasl_plain_username')}"
    return f"{options.get('security_protocol', 'PLAINTEXT')} connection"


_CLOSED_HINTS = {  # what a broker that hangs up on a client of this protocol most likely wants
    "PLAINTEXT": "does it require TLS (SSL) or SASL (SASL_SSL, SASL_PLAINTEXT)?",
    "SSL": "does it require a client certificate (PULSE_KAFKA_SSL_CERTFILE), or SASL as well (SASL_SSL)?",
    "SASL_PLAINTEXT": "does it offer that SASL mechanism (PULSE_KAFKA_SASL_MECHANISM), or require TLS?",
    "SASL_SSL": "does it offer that SASL mechanism (PULSE_KAFKA_SASL_MECHANISM), or want a client cert?",
}


async def refusal(bootstrap: str, options: KafkaOptions, timeout_s: float = 10.0) -> str | None:
    """Why the first bootstrap broker refuses Pulse's connection, or None when it does not.

    aiokafka's clients log the cause of a failed bootstrap and raise only "Unable to
    bootstrap"; this connects once as they would (TLS handshake, SASL login, one Metadata
    request) and says what went wrong with the security settings. None too when the broker
    is just not there (connection refused, timeout): that is an outage, not a refusal.

    >>> await refusal("127.0.0.1:9093", client_options(settings))
    'the broker refused the SCRAM-SHA-512 login of user pulse (unknown-user): check ...'
    """
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    conn = None
    try:
        conn = await asyncio.wait_for(
            aiokafka.conn.create_conn(host, int(port), request_timeout_ms=int(timeout_s * 1000), **options),
            timeout_s,
        )
        await conn.send(MetadataRequest([]))
        return None
    except SaslAuthenticationFailed as exc:
        reason = f" ({exc.args[0]})" if exc.args else ""
        return (
            f"the broker refused the {login_target(options)}{reason}: check PULSE_KAFKA_SASL_USERNAME, "
            "PULSE_KAFKA_SASL_PASSWORD and PULSE_KAFKA_SASL_MECHANISM"
        )
    except UnsupportedSaslMechanismError:
        return (
            f"the broker does not offer SASL mechanism {options.get('sasl_mechanism')} "
            "(PULSE_KAFKA_SASL_MECHANISM), or no SASL on this port"
        )
    except ssl.SSLCertVerificationError as exc:
        return (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}): "
            "is PULSE_KAFKA_SSL_CAFILE the CA that signed it, and the host in PULSE_KAFKA_URL its name?"
        )
    except ssl.SSLError as exc:
        return f"the TLS handshake failed ({exc.reason or exc}): does the broker speak TLS on this port?"
    except (TimeoutError, KafkaTimeoutError, ConnectionRefusedError):
        return None  # nobody there, or a broker that does not answer in time (paused, overloaded)
    except (KafkaError, OSError) as exc:
        protocol = options.get("security_protocol", "PLAINTEXT")
        if not isinstance(exc, KafkaError) and protocol == "PLAINTEXT":
            return None  # a plain TCP connection that broke: an outage
        return (  # it accepted the connection, then hung up on a request or on the handshake
            f"the broker closed the {login_target(options)} ({exc}): {_CLOSED_HINTS.get(protocol, '')} "
            f"(PULSE_KAFKA_SECURITY_PROTOCOL is {protocol})"
        )
    finally:
        if conn is not None:
            conn.close()


class _ScramAuthenticator(aiokafka.conn.ScramAuthenticator):  # type: ignore[misc]  # no types
    """aiokafka reads the SCRAM server-final message as if it always held `v=`; RFC 5802 §7 lets
    it be `e=<reason>` instead (a wrong password: `e=invalid-proof`; Tansu: `e=unknown-user`),
    which aiokafka turns into `KeyError: 'v'`. Raise what the broker said, as a Kafka error."""

    def process_server_final_message(self, server_final: str) -> None:
        if server_final.startswith("e="):
            raise SaslAuthenticationFailed(server_final[2:])  # e.g. invalid-proof: a wrong password
        super().process_server_final_message(server_final)


aiokafka.conn.ScramAuthenticator = _ScramAuthenticator  # read by AIOKafkaConnection.authenticator_scram
