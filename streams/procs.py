"""Child-process helpers: free loopback ports, waiting for a port, and a stop that always ends."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from typing import Any

_POLL_S = 0.05


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`, e.g. `free_port() -> 41873`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on (host, port)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    timeout_s: float,
    proc: subprocess.Popen[Any] | None = None,
) -> None:
    """Block until (host, port) accepts connections.

    Raises TimeoutError after `timeout_s`, or ChildProcessError as soon as `proc`
    (the process expected to listen there) has exited.
    """
    deadline = time.monotonic() + timeout_s
    while not port_open(host, port):
        if proc is not None and proc.poll() is not None:
            raise ChildProcessError(f"pid {proc.pid} exited with code {proc.returncode}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:g} s")
        time.sleep(_POLL_S)


def _leads_own_group(pid: int) -> bool:
    """True when `pid` leads a process group other than ours (`start_new_session=True`)."""
    try:
        return os.getpgid(pid) == pid and pid != os.getpgrp()
    except ProcessLookupError:
        return False


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> int:
    """SIGTERM `proc`, wait up to `grace_s`, then SIGKILL; returns the exit code.

    `grace_s=0` sends SIGKILL at once, as a crash would. A process started with
    `start_new_session=True` is signalled as a whole process group, and the group gets a
    final SIGKILL so that no child it spawned outlives it.
    """
    group = _leads_own_group(proc.pid)
    if proc.poll() is None and grace_s > 0:
        _signal(proc.pid, signal.SIGTERM, group)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    if proc.poll() is None or group:
        _signal(proc.pid, signal.SIGKILL, group)
    return proc.wait()
