"""Client mode's HTTP failures: retried when the server asks for it, one line otherwise.

A server that is restarting or whose database is briefly away answers 503 with
`Retry-After` (api/http/unavailable.py). A request that is safe to send again is then
sent again after the delay the server asked for, a few times with a growing wait: reads,
and appends, which always carry a command id (the server answers a repeated id from its
record instead of appending twice, api/http/routes/entries.py). Uploads are not resent
here: their body is a file stream, and the upload command says what to do.

Everything else that can go wrong before an answer (nothing listening, a name that does
not resolve, TLS that does not verify, a timeout) and an answer that is not this API's
(a wrong base URL) becomes `ServerProblem`: one sentence naming the URL and the fix,
and the exit code `EXIT_UNAVAILABLE` (api/cli/common.py), never a traceback.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable

import httpx

#: Attempts in all for a retry-safe request the server answers 503, and the longest
#: wait between two (a Retry-After beyond it is cut to it).
ATTEMPTS = 4
MAX_WAIT = 10.0


class ServerProblem(Exception):
    """The server could not be reached, or what answered is not the ledger's API."""


class RetryWhenAsked(httpx.BaseTransport):
    """Resend a retry-safe request that the server answered 503, after its Retry-After."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        attempts: int = ATTEMPTS,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.attempts = attempts
        self.max_wait = max_wait
        self.sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(1, self.attempts + 1):
            response = self.inner.handle_request(request)
            if response.status_code != 503 or attempt == self.attempts or not retry_safe(request):
                return response
            response.read()
            response.close()
            self.sleep(self._wait(response, attempt))
        raise AssertionError("unreachable")  # the loop returns on its last attempt

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        asked = response.headers.get("retry-after", "")
        backoff = 0.5 * 2 ** (attempt - 1)
        wait = float(asked) if asked.isdigit() else backoff
        return min(max(wait, 0.0), self.max_wait)

    def close(self) -> None:
        self.inner.close()


def retry_safe(request: httpx.Request) -> bool:
    """Reads, and appends that carry a command id (answered once however often sent)."""
    if request.method in ("GET", "HEAD"):
        return True
    if request.method != "POST" or not request.url.path.endswith("/v1/entries"):
        return False
    try:
        body = json.loads(request.content)
    except (httpx.RequestNotRead, ValueError):
        return False
    return isinstance(body, dict) and bool(body.get("command_id"))


def describe(error: httpx.TransportError, server: str) -> ServerProblem:
    """One sentence for a request that got no answer from `server`."""
    cause = _root_cause(error)
    if isinstance(cause, ssl.SSLError) or "SSL" in type(cause).__name__ or "ssl" in str(cause):
        return ServerProblem(
            f"TLS with {server} failed ({_reason(cause)}): check the URL's scheme and the "
            "server's certificate (SSL_CERT_FILE names a CA bundle to trust)"
        )
    if isinstance(error, httpx.TimeoutException):
        return ServerProblem(f"{server} did not answer in time ({type(error).__name__})")
    if isinstance(cause, ConnectionRefusedError):
        return ServerProblem(f"nothing answers at {server} (connection refused): is it running?")
    if "Name or service not known" in str(cause) or "nodename nor servname" in str(cause):
        return ServerProblem(f"the server's name in {server} does not resolve")
    return ServerProblem(f"cannot reach {server}: {_reason(cause)}")


def not_the_api(server: str, status: int, path: str) -> ServerProblem:
    """What answered is not this API (no JSON error of its shape): a wrong base URL."""
    return ServerProblem(
        f"{server} answered HTTP {status} to {path} without the ledger API's JSON error: "
        "is INQUIRY_LEDGER_SERVER (--server) the service's base URL, e.g. https://host:8000?"
    )


def unavailable(server: str, detail: object) -> ServerProblem:
    return ServerProblem(
        f"{server} is unavailable ({detail}) after {ATTEMPTS} attempts: try again later"
    )


def _root_cause(error: BaseException) -> BaseException:
    seen: BaseException = error
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        assert nxt is not None
        seen = nxt
    return seen


def _reason(cause: BaseException) -> str:
    text = getattr(cause, "reason", None) or str(cause) or type(cause).__name__
    return str(text).strip()[:200]
