"""The server's HTTP client for its witnesses: the one piece of the C2SP tlog-witness
push that needs an HTTP client, kept here because the application layer imports none
(api/application/witness_push.py takes it as a function)."""

from __future__ import annotations

import httpx

from api.application.witness_push import WitnessAnswer, WitnessUnreachable
from ledger.tlog_witness import MAX_MESSAGE_BYTES

#: How long the checkpoint thread waits for a witness to connect, and then to answer.
WITNESS_TIMEOUT = 5.0


class HttpxWitnessPost:
    """The server's HTTP client for witnesses (api/application/witness_push.py): one
    keep-alive connection pool (the spec asks logs to reuse connections), short
    timeouts, no redirects, and an answer read only up to MAX_MESSAGE_BYTES."""

    def __init__(self, timeout: float = WITNESS_TIMEOUT) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)

    def __call__(self, url: str, body: bytes) -> WitnessAnswer:
        try:
            with self._client.stream("POST", url, content=body) as response:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_MESSAGE_BYTES:
                        break  # not this protocol's answer: the parser refuses it
                content_type = response.headers.get("content-type", "")
                return WitnessAnswer(response.status_code, content_type, bytes(data))
        except httpx.HTTPError as error:
            raise WitnessUnreachable(f"{type(error).__name__}: {error}") from None

    def close(self) -> None:
        self._client.close()
