"""A streamed answer that is whole or visibly broken.

Once the first byte is sent, the status can no longer change. If producing the rest fails, this
response stops without sending HTTP's last (empty) chunk and the server closes the connection,
so every client (httpx, curl, a browser) reports an incomplete read rather than a clean end. A
client that stops reading is cut off by the server (``api.server``); a client that leaves ends the
answer. Either way the body's generator is closed (its reading thread stops, its spool goes) and
``on_close`` runs, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("api")


class WholeOrBroken(StreamingResponse):
    def __init__(
        self,
        content: Iterator[bytes],
        *,
        media_type: str,
        on_close: Callable[[], None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._content = content
        self._on_close = on_close

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            log.error(
                "an answer under way failed (%s: %s); its connection is closed without the last chunk",
                type(exc).__name__,
                exc.__cause__ or exc,
            )
            return  # uvicorn then closes the connection: "ASGI callable returned without completing response"
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                close = getattr(self._content, "close", None)
                if close is not None:
                    close()
            finally:
                if self._on_close is not None:
                    self._on_close()
