"""The edges of `pulse top`: read the exporter over HTTP, print one screen or refresh it until Ctrl-C."""

from __future__ import annotations

import http.client
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TextIO

from metrics_core.errors import ExporterUnavailable
from streams.top.reading import Reading, parse
from streams.top.render import fit, render

# plain ANSI: the alternate screen (the shell's screen comes back on exit), cursor home,
# clear to the end of the line and of the screen, hide and show the cursor
ENTER, LEAVE = "\x1b[?1049h\x1b[?25l", "\x1b[?25h\x1b[?1049l"
HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"

Fetch = Callable[[str], Reading]


def fetch(url: str, timeout_s: float = 5.0, clock: Callable[[], float] = time.time) -> Reading:
    """GET the exporter's metrics and parse them; ExporterUnavailable says why not, in one line."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise ExporterUnavailable(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise ExporterUnavailable(f"cannot reach {url} ({exc.reason}); is `pulse exporter` running?") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:  # timeouts, resets, bad URLs
        raise ExporterUnavailable(f"cannot read {url} ({str(exc) or type(exc).__name__})") from exc
    try:
        return parse(text, clock())
    except ValueError as exc:
        raise ExporterUnavailable(f"{url} did not answer Prometheus text ({exc})") from exc


def once(url: str, window: str, prop: str | None, out: TextIO, width: int, get: Fetch = fetch) -> int:
    """Print one screen without clearing (rates need two reads: they show "—")."""
    out.write(render(get(url), None, window, prop, width) + "\n")
    return 0


def screen(frame: str | None, status: str, width: int) -> str:
    """Home, the frame and a status line, each line clearing what an earlier frame left behind."""
    lines = [*(frame.splitlines() if frame else []), fit(status, width)]
    return HOME + "\n".join(line + CLEAR_LINE for line in lines) + CLEAR_BELOW  # no newline: no scroll


def watch(
    url: str,
    window: str,
    prop: str | None,
    interval_s: float,
    out: TextIO,
    width: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    get: Fetch = fetch,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Refresh every `interval_s` until Ctrl-C (exit 0); while the exporter is away the last
    frame stays, with a status line saying why, and reads are retried."""
    previous: Reading | None = None
    frame: str | None = None
    out.write(ENTER)
    try:
        while True:
            columns = width()
            try:
                current = get(url)
            except ExporterUnavailable as exc:
                status = f"! retrying every {interval_s:g} s: {exc}"
            else:
                frame = render(current, previous, window, prop, columns)
                previous = current
                status = f"{url} every {interval_s:g} s · Ctrl-C quits"
            out.write(screen(frame, status, columns))
            out.flush()
            sleep(interval_s)
    except KeyboardInterrupt:
        return 0
    finally:
        out.write(LEAVE)
        out.flush()
