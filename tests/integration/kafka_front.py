"""A TLS and SASL/SCRAM front for a plain Tansu broker, for tests.

Tansu 0.6 cannot serve TLS (its `--cert` and `--key` exclude each other, and it needs both),
and a Tansu that requires SASL never knows a user (`tansu user create` cannot log in to it,
and users do not outlive the broker process): docs/security.md has the details. So the TLS
and the successful SCRAM logins of tests/integration/test_kafka_security.py are served here,
in front of a real Tansu that advertises this front's address in its metadata:

- TLS: Python's `ssl` (OpenSSL) server side, optionally requiring a client certificate;
- SASL: the handshake and a SCRAM-SHA-256/512 server (RFC 5802) answered as Apache Kafka
  does (a refused login is `SaslAuthenticate` error 58); every other request before the
  login closes the connection, as Tansu and Kafka do. After the login, bytes are piped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import ssl
import struct
import threading
from collections.abc import Mapping
from io import BytesIO
from typing import Self

from aiokafka.protocol.admin import (
    SaslAuthenticateRequest_v0,
    SaslAuthenticateResponse_v0,
    SaslAuthenticateResponse_v1,
    SaslHandShakeRequest_v0,
    SaslHandShakeResponse_v0,
)

from streams.procs import free_port

HOST = "127.0.0.1"
_API_VERSIONS, _SASL_HANDSHAKE, _SASL_AUTHENTICATE = 18, 17, 36
_NO_ERROR, _UNSUPPORTED_MECHANISM, _AUTHENTICATION_FAILED = 0, 33, 58
_HASHES = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}


class Scram:
    """The server side of one SCRAM login against `users` (name -> password)."""

    def __init__(self, mechanism: str, users: Mapping[str, str]) -> None:
        self.hash = _HASHES[mechanism]
        self.users = users
        self.user: str | None = None
        self._auth_message = ""
        self._nonce = ""
        self._salted = b""

    def _hmac(self, key: bytes, text: bytes) -> bytes:
        return hmac.new(key, text, self.hash).digest()

    def first(self, client_first: str) -> str:
        bare = client_first.split(",", 2)[2]  # after the GS2 header "n,,"
        fields = dict(item.split("=", 1) for item in bare.split(","))
        self.user, salt, iterations = fields["n"], os.urandom(16), 4096
        self._nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        password = self.users.get(self.user, os.urandom(16).hex())  # an unknown user fails the proof
        self._salted = hashlib.pbkdf2_hmac(self.hash().name, password.encode(), salt, iterations)
        server_first = f"r={self._nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        self._auth_message = f"{bare},{server_first}"
        return server_first

    def final(self, client_final: str) -> str | None:
        """The server-final message, or None when the proof is wrong."""
        without_proof, _, proof = client_final.rpartition(",p=")
        self._auth_message += "," + without_proof
        if f"r={self._nonce}" not in without_proof.split(","):
            return None
        client_key = self._hmac(self._salted, b"Client Key")
        signature = self._hmac(self.hash(client_key).digest(), self._auth_message.encode())
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        if not hmac.compare_digest(expected, base64.b64decode(proof)):
            return None
        server_key = self._hmac(self._salted, b"Server Key")
        return "v=" + base64.b64encode(self._hmac(server_key, self._auth_message.encode())).decode()


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _request(frame: bytes) -> tuple[int, int, int, BytesIO]:
    """api_key, api_version, correlation_id and the body of a request with header v1."""
    api_key, version, correlation_id, client_id_len = struct.unpack(">hhih", frame[:10])
    return api_key, version, correlation_id, BytesIO(frame[10 + max(client_id_len, 0) :])


def _answer(writer: asyncio.StreamWriter, correlation_id: int, body: bytes) -> None:
    payload = struct.pack(">i", correlation_id) + body
    writer.write(struct.pack(">i", len(payload)) + payload)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


class KafkaFront:
    """`front = KafkaFront(tls=context, users={"pulse": "pw"})`, then `front.start(broker_port)`.

    `front.port` is known before the start: give it to the broker's `--advertised-listener-url`.
    """

    def __init__(self, tls: ssl.SSLContext | None = None, users: Mapping[str, str] | None = None) -> None:
        self.upstream_port = 0
        self.tls = tls
        self.users = users
        self.port = free_port()
        self.logins: list[tuple[str, str, bool]] = []  # (mechanism, user, accepted)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self, upstream_port: int) -> Self:
        self.upstream_port = upstream_port
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, HOST, self.port, ssl=self.tls), self._loop
        ).result(10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            writer.close()
            return
        try:
            logged_in = self.users is None or await self._login(reader, writer, up_reader, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            logged_in = False
        if not logged_in:
            writer.close()
            up_writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _login(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        """Serve the requests before the login; True once a SCRAM login succeeded."""
        assert self.users is not None
        scram: Scram | None = None
        while True:
            frame = await _read_frame(reader)
            api_key, version, correlation_id, body = _request(frame)
            if api_key == _API_VERSIONS:
                up_writer.write(struct.pack(">i", len(frame)) + frame)
                answer = await _read_frame(up_reader)
                writer.write(struct.pack(">i", len(answer)) + answer)
            elif api_key == _SASL_HANDSHAKE:
                mechanism = SaslHandShakeRequest_v0.decode(body).mechanism
                known = mechanism in _HASHES
                scram = Scram(mechanism, self.users) if known else None
                code = _NO_ERROR if known else _UNSUPPORTED_MECHANISM
                _answer(writer, correlation_id, SaslHandShakeResponse_v0(code, list(_HASHES)).encode())
            elif api_key == _SASL_AUTHENTICATE and scram is not None and version <= 1:
                token = SaslAuthenticateRequest_v0.decode(body).sasl_auth_bytes.decode()
                reply = scram.final(token) if scram.user is not None else scram.first(token)
                failed = reply is None
                message = "Authentication failed: invalid credentials" if failed else None
                fields = (_AUTHENTICATION_FAILED if failed else _NO_ERROR, message, (reply or "").encode())
                response = (
                    SaslAuthenticateResponse_v1(*fields, 0)
                    if version
                    else SaslAuthenticateResponse_v0(*fields)
                )
                _answer(writer, correlation_id, response.encode())
                await writer.drain()
                if token.startswith("c="):  # the client-final message: the login is decided
                    self.logins.append((scram.hash().name, scram.user or "", not failed))
                    if failed:
                        writer.close()
                    return not failed
            else:  # anything else before the login
                writer.close()
                return False
            await writer.drain()
