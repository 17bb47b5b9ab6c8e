"""A Redis crash that loses its last second, as AOF `everysec` allows: SIGKILL, then the AOF cut.

A SIGKILL of redis-server alone loses nothing (what it answered is in the page cache); a
machine crash or power loss loses what was not fsynced, up to about a second. With
`aof-timestamp-enabled` the AOF carries `#TS:<unix s>` marks, and `redis-check-aof
--truncate-to-timestamp` cuts it back to one of them: exactly that loss, on demand.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from streams.embedded import EmbeddedRedis

DEBIAN_REDIS = Path("/usr/bin/redis-server")
CHECK_AOF = Path("/usr/bin/redis-check-aof")
AOF_EVERYSEC = ("--appendonly", "yes", "--appendfsync", "everysec", "--aof-timestamp-enabled", "yes")


def available() -> bool:
    """Debian's redis-server and redis-check-aof (`make tools`): Valkey's wheel ships neither tool."""
    return DEBIAN_REDIS.exists() and CHECK_AOF.exists()


def aof_redis(data_dir: Path) -> EmbeddedRedis:
    """Debian's redis-server with AOF everysec and timestamp marks, data in `data_dir`."""
    return EmbeddedRedis(str(DEBIAN_REDIS), dir=data_dir, extra_args=AOF_EVERYSEC)


def lose_writes_after(server: EmbeddedRedis, unix_s: int) -> None:
    """Crash `server` and restart it with every write after second `unix_s` gone (1: all of them)."""
    assert unix_s >= 1, "redis-check-aof reads 0 as: do not truncate"
    server.kill()
    manifest = next((server.data_dir / "appendonlydir").glob("*.manifest"))
    result = subprocess.run(
        [str(CHECK_AOF), "--truncate-to-timestamp", str(unix_s), str(manifest)],
        input=b"y\n",
        capture_output=True,
        timeout=60,
    )
    output = result.stdout.decode() + result.stderr.decode()
    if result.returncode != 0 and "has nothing before timestamp" in output:
        _last_incr(manifest).write_bytes(b"")  # the whole file is newer than the cut: all of it goes
    elif result.returncode != 0:
        raise RuntimeError(f"redis-check-aof failed: {output}")
    server.start()


def _last_incr(manifest: Path) -> Path:
    """The AOF file being appended to: the manifest's last `type i` entry."""
    names = [line.split()[1] for line in manifest.read_text().splitlines() if line.split()[-1:] == ["i"]]
    return manifest.parent / names[-1]


def crash(server: EmbeddedRedis) -> None:
    """SIGKILL and restart on the same port and data: the AOF replays every answered write."""
    server.kill()
    server.start()
