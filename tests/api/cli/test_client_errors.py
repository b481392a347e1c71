"""Client mode when the server is not there, not the API, not TLS, or busy (issue 14).

Each failure is one line naming the URL and the fix, and exit 5 (EXIT_UNAVAILABLE);
never a traceback. A 503 with Retry-After is retried for requests that are safe to send
again (reads, and appends: their command id makes a resend an answer, not a second
append), after the delay the server asks for."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.cli.common import EXIT_UNAVAILABLE
from api.cli.http_client import RetryWhenAsked
from tests.support.server import free_port


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's `answers` in turn (the last repeated)."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer()

    def _answer(self) -> None:
        server: Any = self.server
        server.seen.append((self.command, self.path))
        status, headers, body = server.answers[min(len(server.seen), len(server.answers)) - 1]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Any]:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    server.seen, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()


def client(cli: Any, url: str, *args: str) -> tuple[int, str, str]:
    code, out, err = cli("--server", url, "--token", "il_x_y", *args)
    return int(code), str(out), str(err)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_nothing_listening_is_one_line_and_exit_5(cli: Any) -> None:
    code, _, err = client(cli, f"http://127.0.0.1:{free_port()}", "status")
    assert code == EXIT_UNAVAILABLE
    assert "connection refused" in one_line(err)


def test_a_wrong_base_url_says_so(cli: Any, canned: Any) -> None:
    canned.answers = [(404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>")]
    code, _, err = client(cli, canned.url + "/wrong/prefix", "status")
    assert code == EXIT_UNAVAILABLE
    line = one_line(err)
    assert "HTTP 404" in line and "base URL" in line


def test_tls_to_a_plain_http_server_says_tls(cli: Any, canned: Any) -> None:
    canned.answers = [(200, {}, b"{}")]
    code, _, err = client(cli, canned.url.replace("http://", "https://"), "status")
    assert code == EXIT_UNAVAILABLE
    assert "TLS" in one_line(err)


def test_a_server_that_stays_unavailable_is_retried_then_one_line(
    cli: Any, canned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.cli.http_client.time.sleep", lambda _: None)
    busy = json.dumps({"error": "unavailable", "detail": "the database is unavailable"})
    canned.answers = [
        (503, {"Retry-After": "1", "Content-Type": "application/json"}, busy.encode())
    ]
    code, _, err = client(cli, canned.url, "status")
    assert code == EXIT_UNAVAILABLE
    assert "unavailable" in one_line(err) and "try again later" in err
    assert len(canned.seen) == 4  # the first try and three more


def _transport(answers: list[httpx.Response], sent: list[httpx.Request]) -> httpx.BaseTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers[min(len(sent), len(answers)) - 1]

    return httpx.MockTransport(handle)


BUSY = httpx.Response(503, headers={"Retry-After": "2"}, json={"error": "unavailable"})
DONE = httpx.Response(200, json={"appended": []})


def test_an_append_is_resent_with_the_same_command_id_after_retry_after() -> None:
    sent: list[httpx.Request] = []
    waits: list[float] = []
    transport = RetryWhenAsked(_transport([BUSY, BUSY, DONE], sent), sleep=waits.append)
    with httpx.Client(transport=transport, base_url="http://ledger") as http:
        body = {"entries": [{"body": {}, "signature": "x"}], "command_id": "cli-1"}
        assert http.post("/v1/entries", json=body).status_code == 200
    assert len(sent) == 3 and len({r.content for r in sent}) == 1  # the same request
    assert waits == [2.0, 2.0]


def test_only_what_is_safe_to_send_again_is_resent() -> None:
    for method, path, body in [
        ("POST", "/v1/entries", {"entries": []}),  # no command id: could append twice
        ("POST", "/v1/checkpoint", None),
    ]:
        sent: list[httpx.Request] = []
        transport = RetryWhenAsked(_transport([BUSY, DONE], sent), sleep=lambda _: None)
        with httpx.Client(transport=transport, base_url="http://ledger") as http:
            assert http.request(method, path, json=body).status_code == 503
        assert len(sent) == 1, path
    sent = []
    waits: list[float] = []
    transport = RetryWhenAsked(_transport([BUSY, DONE], sent), sleep=waits.append)
    with httpx.Client(transport=transport, base_url="http://ledger") as http:
        assert http.get("/v1/status").status_code == 200
    assert len(sent) == 2


def test_the_wait_is_bounded_and_backs_off_without_retry_after() -> None:
    sent: list[httpx.Request] = []
    waits: list[float] = []
    long = httpx.Response(503, headers={"Retry-After": "3600"}, json={"error": "unavailable"})
    bare = httpx.Response(503, json={"error": "unavailable"})
    transport = RetryWhenAsked(_transport([long, bare, bare, DONE], sent), sleep=waits.append)
    with httpx.Client(transport=transport, base_url="http://ledger") as http:
        assert http.get("/v1/plan").status_code == 200
    assert waits == [10.0, 1.0, 2.0]
