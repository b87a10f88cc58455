"""Live principals by token hash, per process: an HTTP request's token lookup without a query.

An entry is forgotten as soon as its revocation is heard (`revocations`), and after `ttl_s` at the latest.
"""

from __future__ import annotations

import time

from ..runtime import Hub
from ..services import auth
from .revocations import Revocations

MAX_ENTRIES = 1024  # live tokens remembered per process; a deployment has far fewer in use at once


class TokenCache:
    """Why revocation still takes effect at once (see docs/security.md):

    - Entries are served only while this process hears revocations (`Revocations.heard`); otherwise every request
      asks the database, as without a cache. A revocation is applied the moment it is heard, and one committed
      by this process before it is published.
    - A lookup that was reading the database while a revocation was heard is not remembered (a generation count):
      it may have read the row before the revocation committed.
    - An entry lives `ttl_s` at most (counted from before its read): that bounds a revocation whose message was
      lost (Redis restarting) or never sent (`omniman token revoke` without Redis).
    - Only live tokens are remembered, at most `max_entries` (the oldest goes first): unknown or revoked tokens are
      looked up every time, so guessing cannot fill the cache or push real tokens out of it for long.
    """

    def __init__(self, hub: Hub, revocations: Revocations, *, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self.hub = hub
        self.revocations = revocations
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[auth.Principal, float]] = {}
        self._generation = 0
        revocations.listen(self._revoked)

    @property
    def active(self) -> bool:
        """Whether lookups are being remembered."""
        return self.ttl_s > 0 and self.revocations.heard

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, secret: str | None) -> auth.Principal | None:
        """`auth.authenticate`, from memory when this process may trust it."""
        if not auth.plausible(secret):
            return None
        token_hash = auth.hash_token(secret)  # type: ignore[arg-type]
        if not self.active:
            return await auth.principal_by_hash(self.hub, token_hash)
        now = time.monotonic()
        entry = self._entries.get(token_hash)
        if entry is not None:
            if entry[1] > now:
                return entry[0]
            del self._entries[token_hash]
        generation = self._generation
        principal = await auth.principal_by_hash(self.hub, token_hash)
        if principal is not None and self.active and generation == self._generation:
            self._entries[token_hash] = (principal, now + self.ttl_s)
            if len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        return principal

    def _revoked(self, token_id: int | None) -> None:
        self._generation += 1
        if token_id is None:
            self._entries.clear()
            return
        for key in [k for k, (principal, _) in self._entries.items() if principal.token_id == token_id]:
            del self._entries[key]
