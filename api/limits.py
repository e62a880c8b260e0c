"""What the API holds at once: /data answers under way (and, of those, long ones), and the answer
when it is full: 503 with ``Retry-After``, at once, never a queue that makes the client wait."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import HTTPException

RETRY_AFTER_S = 2


def unavailable(detail: str) -> HTTPException:
    """503 with ``Retry-After``: the client may ask again in a moment."""
    return HTTPException(status_code=503, detail=detail, headers={"Retry-After": str(RETRY_AFTER_S)})


class AnswerSlots:
    """At most ``total`` /data answers under way, of which at most ``long`` long ones (``api.samples.is_long``:
    the most database time and spool space). ``take`` never waits."""

    def __init__(self, total: int, long: int) -> None:
        self.total, self.long = total, long
        self._all = threading.BoundedSemaphore(total)
        self._long = threading.BoundedSemaphore(long)

    def take(self, long: bool) -> Callable[[], None]:
        """A slot, or 503; the returned function gives it back (once, however often it is called)."""
        if not self._all.acquire(blocking=False):
            raise unavailable(
                f"The API is sending {self.total} answers already (ETL_API_MAX_ANSWERS). "
                f"Try again in {RETRY_AFTER_S} s."
            )
        if long and not self._long.acquire(blocking=False):
            self._all.release()
            raise unavailable(
                f"The API is sending {self.long} long answers already (ETL_API_MAX_LONG_ANSWERS). "
                f"Try again in {RETRY_AFTER_S} s, or ask for a shorter interval."
            )
        lock, given_back = threading.Lock(), []

        def give_back() -> None:
            with lock:
                if given_back:
                    return
                given_back.append(True)
            if long:
                self._long.release()
            self._all.release()

        return give_back
