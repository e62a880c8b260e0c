"""The HTTP server's guards, which uvicorn itself lacks: ``uvicorn --http api.server:GuardedHttpToolsProtocol``
(``etl stack up``, the Dockerfile and docker-compose.yml run the same command).

uvicorn's httptools protocol, with these limits on every connection:

- a request's line and headers must arrive whole within ``ETL_API_HEADER_TIMEOUT_S`` (10 s) of its
  first byte, or of the connection for one that sends nothing: otherwise 408 (a connection that sent
  nothing is just closed);
- together they may be at most ``ETL_API_MAX_HEADER_BYTES`` (64 KiB): otherwise 431, whether they are
  still arriving (counted as received) or arrived whole in one read (counted as parsed: the request
  line, each header's name and value and their line ends); either way the connection is closed, so the
  parser never buffers more than that;
- a request may not carry a body (every route is a GET): one that declares one (``Content-Length``
  above 0, or ``Transfer-Encoding``) is 413 and closed before the app sees it;
- while an answer waits on the client (the socket's write buffer over its high-water mark), the
  client must read within ``ETL_API_SEND_TIMEOUT_S`` (30 s): otherwise the connection is aborted,
  the answer ends (visibly broken) and its slot is free again.

Idle keep-alive connections are closed by uvicorn's own ``--timeout-keep-alive``.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from etl_lib.config.settings import Settings, get_settings

log = logging.getLogger("api")
LINGER_S = 2.0


@cache
def _environment_settings() -> Settings:
    return get_settings()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    settings: Settings | None = None  # where the limits come from; None: the environment, read once

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._settings = type(self).settings or _environment_settings()
        self._awaiting_headers = True
        self._header_bytes = 0  # received while the headers are awaited
        self._parsed_bytes = 0  # of the request line and headers the parser has read
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- headers: in time, and not too many --------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():  # refused: what else the client sends is dropped
            return
        if self._awaiting_headers:
            self._start_header_timer()
            self._header_bytes += len(data)
        super().data_received(data)  # completes the headers, if they are all in
        if self._awaiting_headers and self._header_bytes > self._settings.api_max_header_bytes:
            self._refuse(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"Request line and headers exceed {self._settings.api_max_header_bytes} bytes.",
            )

    def on_url(self, url: bytes) -> None:
        self._parsed_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed_bytes += len(name) + len(value) + len(b": \r\n")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:  # a request pipelined behind a refused one
            return
        self._awaiting_headers = False
        self._cancel_header_timer()
        parsed, self._parsed_bytes = self._parsed_bytes + len(b"GET  HTTP/1.1\r\n\r\n"), 0
        if parsed > self._settings.api_max_header_bytes:  # whole headers that arrived in one read
            self._refuse(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"Request line and headers exceed {self._settings.api_max_header_bytes} bytes.",
            )
            return
        if any(
            name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")
            for name, value in self.headers
        ):
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Requests to this API carry no body.")
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next request's headers, unless a pipelined one is already parsed.
        self._awaiting_headers = self.cycle is None or self.cycle.response_complete
        self._header_bytes = 0

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._settings.api_header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._awaiting_headers or self.transport.is_closing():
            return
        if self._header_bytes:
            self._refuse(
                HTTPStatus.REQUEST_TIMEOUT,
                f"Request headers not received whole within {self._settings.api_header_timeout_s:g} s.",
            )
        else:
            self.transport.close()  # a connection that never sent a request

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        """Answer ``status`` and end the connection: our side at once; what the client still sends is
        read and dropped for ``LINGER_S`` more (so it gets to read the answer), then it is closed."""
        if self._refused or self.transport.is_closing():
            return
        self._refused, self._awaiting_headers = True, False
        self._cancel_header_timer()
        log.warning("%s %s from %s: %s", status.value, status.phrase, self.client, message)
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status.value, status.phrase.encode(), len(body), body)
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.abort)
        else:
            self.transport.close()

    # -- answers: a client that reads nothing is cut off -----------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self._settings.api_send_timeout_s, self._send_timeout)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_timeout(self) -> None:
        self._send_timer = None
        log.warning("%s read nothing for %g s: connection aborted", self.client, self._settings.api_send_timeout_s)
        self.transport.abort()  # not close(): that would wait to send what the client does not read

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().connection_lost(exc)


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """The protocol with the limits of ``settings`` rather than the environment's (an in-process server)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"settings": settings})
