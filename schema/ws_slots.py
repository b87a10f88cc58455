"""Open websockets per token, counted in this web process, and the cap on them (`max_websockets_per_token`)."""

from __future__ import annotations

from collections.abc import Callable

TOO_MANY_SOCKETS = 4429  # the "too many requests" of websocket close codes (as graphql-transport-ws uses it)


class TooManySockets(Exception):
    """The token already holds its share of this process's websockets: the socket is closed with 4429."""

    def __init__(self, limit: int) -> None:
        self.reason = f"Too many open websockets for this token (at most {limit}); close one first."
        super().__init__(self.reason)


class SocketSlots:
    """How many authenticated websockets each token holds open in this process. Taking a slot is synchronous (no
    await between the count and the increment), so sockets initialising at once cannot all slip under the cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[int, int] = {}

    def held(self, token_id: int) -> int:
        return self._open.get(token_id, 0)

    def take(self, token_id: int) -> Callable[[], None]:
        """A slot for one more socket of `token_id` (TooManySockets when it has `limit`); returns its release,
        which frees it once however often it is called."""
        count = self._open.get(token_id, 0)
        if count >= self.limit:
            raise TooManySockets(self.limit)
        self._open[token_id] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._open[token_id] - 1
            if left:
                self._open[token_id] = left
            else:
                del self._open[token_id]

        return release
