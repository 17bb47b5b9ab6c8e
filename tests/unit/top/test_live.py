"""The edges of `pulse top`: HTTP reads and their errors, one screen, the refresh loop, the CLI."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from metrics_core.errors import ExporterUnavailable
from streams.cli import main
from streams.procs import free_port
from streams.top import live
from streams.top.reading import Reading, parse
from tests.unit.top.exposition import TAKEN_S, TEXT

PAGES = {"/metrics": (200, TEXT), "/html": (200, "<html><body>hello</body></html>")}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = PAGES.get(self.path, (404, "not found"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """An HTTP server on a free loopback port serving PAGES; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_reads_and_parses_the_metrics(server: str) -> None:
    reading = live.fetch(f"{server}/metrics", clock=lambda: 42.0)
    assert reading.taken_s == 42.0
    assert reading.value("pulse_page_views", window="5m", property="shop") == 12345.0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "/missing answered HTTP 404 Not Found"),
        ("/html", "/html did not answer Prometheus text (invalid metric name:"),
    ],
)
def test_fetch_says_in_one_line_what_went_wrong(server: str, path: str, message: str) -> None:
    with pytest.raises(ExporterUnavailable) as caught:
        live.fetch(server + path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_fetch_from_a_closed_port_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(ExporterUnavailable, match=r"cannot reach .*Connection refused.*pulse exporter"):
        live.fetch(url)


def test_once_prints_one_screen_without_escape_codes() -> None:
    out = io.StringIO()
    assert live.once("http://x/metrics", "5m", "shop", out, 80, get=lambda url: parse(TEXT, TAKEN_S)) == 0
    text = out.getvalue()
    assert "\x1b" not in text
    assert text.endswith("store (pulse_up)                   up\n")
    assert "  page views                     12 345   unique visitors                 2 034\n" in text


def test_watch_refreshes_keeps_the_last_frame_through_an_outage_and_quits_on_ctrl_c() -> None:
    reads: list[Reading | Exception] = [
        parse(TEXT, TAKEN_S),
        ExporterUnavailable("cannot reach http://x/metrics (Connection refused)"),
        parse(TEXT.replace("1200.0", "1230.0"), TAKEN_S + 4),  # 30 more events in 4 s
        KeyboardInterrupt(),
    ]
    sleeps: list[float] = []

    def get(url: str) -> Reading:
        item = reads.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    out = io.StringIO()
    code = live.watch(
        "http://x/metrics", "5m", "shop", 2.0, out, width=lambda: 80, get=get, sleep=sleeps.append
    )

    assert code == 0 and sleeps == [2.0, 2.0, 2.0]
    text = out.getvalue()
    assert text.startswith(live.ENTER) and text.endswith(live.LEAVE)
    screens = text.removeprefix(live.ENTER).removesuffix(live.LEAVE).split(live.HOME)[1:]
    assert len(screens) == 3
    assert all(s.endswith(live.CLEAR_BELOW) for s in screens)
    first, outage, third = (
        [line.removesuffix(live.CLEAR_LINE) for line in s.removesuffix(live.CLEAR_BELOW).split("\n")]
        for s in screens
    )
    assert "  accepted/s                          —   accepted                        1 534" in first
    assert first[-1] == "http://x/metrics every 2 s · Ctrl-C quits"
    assert outage[:-1] == first[:-1]  # the last frame stays
    assert outage[-1] == "! retrying every 2 s: cannot reach http://x/metrics (Connection refused)"
    assert "  accepted/s                        7.5   accepted                        1 564" in third


def test_the_cli_exits_1_with_one_line_when_the_exporter_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    assert main(["top", "--once", "--url", f"http://127.0.0.1:{port}/metrics"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"pulse top: cannot reach http://127.0.0.1:{port}/metrics ([Errno 111] Connection refused); "
        "is `pulse exporter` running?\n"
    )


def test_the_cli_reads_the_exporter_port_setting_by_default(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PULSE_EXPORTER_HOST", raising=False)
    monkeypatch.setenv("PULSE_EXPORTER_PORT", server.rsplit(":", 1)[1])
    monkeypatch.setenv("PULSE_WINDOWS", "5m,1h")
    assert main(["top", "--once", "--property", "shop"]) == 0
    assert (
        "  page views                     12 345   unique visitors                 2 034\n"
        in capsys.readouterr().out
    )
