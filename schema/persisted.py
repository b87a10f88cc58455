"""Automatic persisted queries (Apollo's protocol) and trusted documents: which document a request runs.

A request may carry `extensions.persistedQuery = {version: 1, sha256Hash}`. Without `query` it names a stored document
(unknown: `PERSISTED_QUERY_NOT_FOUND`, message `PersistedQueryNotFound`, which Apollo's link answers by sending the
document); with `query` the hash must be the document's (else `PERSISTED_QUERY_HASH_MISMATCH`) and, once the document
ran without a parse or validation error, it is stored (the database: every process sees it). With
`trusted_documents_only`, only documents registered by `omniman documents add` run, named by hash or sent whole.
"""

import logging
import re
from collections import OrderedDict
from typing import Any

from graphql import GraphQLError

from omniman_gql.errors import RequestErrorCode
from omniman_gql.runtime import Hub
from omniman_gql.services import documents
from omniman_gql.settings import Settings

log = logging.getLogger("omniman.graphql")
SHA256 = re.compile(r"[0-9a-f]{64}")
CACHE_SIZE = 2_000  # documents kept in memory by hash (a document never changes under its hash)
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # Apollo's link matches this message (or the code)
NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"
NOT_TRUSTED_MESSAGE = ("This hub runs only registered documents (`omniman documents add`), and this one is not: "
                       "register it, or send one that is.")


class Refused(Exception):
    """A request whose document cannot run: a top-level error with `code`, nothing executed."""

    def __init__(self, code: RequestErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PersistedQueries:
    """The documents of one web process's view: the database store with a bounded cache of known hashes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known: OrderedDict[str, tuple[str, bool]] = OrderedDict()  # hash -> (text, trusted)

    async def document_for(self, hub: Hub, query: str | None, extensions: dict[str, Any] | None
                           ) -> tuple[str | None, str | None]:
        """(the document to run, the one to store once it ran cleanly, if any); `Refused` when it may not run."""
        persisted = (extensions or {}).get("persistedQuery")
        trusted_only = self.settings.trusted_documents_only
        if persisted is None:
            if trusted_only and query is not None and not await self._trusted(hub, documents.sha256_of(query)):
                raise Refused(RequestErrorCode.DOCUMENT_NOT_TRUSTED, NOT_TRUSTED_MESSAGE)
            return query, None
        if not self.settings.persisted_queries and not trusted_only:
            raise Refused(RequestErrorCode.PERSISTED_QUERY_NOT_SUPPORTED, NOT_SUPPORTED_MESSAGE)
        sha = _checked_hash(persisted)
        if query is None:
            found = await self._find(hub, sha)
            if found is None or (trusted_only and not found[1]):
                raise Refused(RequestErrorCode.PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE)
            return found[0], None
        if documents.sha256_of(query) != sha:
            raise Refused(RequestErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
                          "extensions.persistedQuery.sha256Hash is not the SHA-256 of `query` (hex of its UTF-8).")
        if trusted_only:  # no registration by clients: the document must be a registered one
            if not await self._trusted(hub, sha):
                raise Refused(RequestErrorCode.DOCUMENT_NOT_TRUSTED, NOT_TRUSTED_MESSAGE)
            return query, None
        return query, None if await self._find(hub, sha) else query

    async def untrusted(self, hub: Hub, query: str) -> dict[str, Any] | None:
        """A websocket operation's document in trusted-documents mode: the error to answer it with when it is not
        registered (None when it may run, and always outside that mode)."""
        if not self.settings.trusted_documents_only or await self._trusted(hub, documents.sha256_of(query)):
            return None
        return {"message": NOT_TRUSTED_MESSAGE, "extensions": {"code": RequestErrorCode.DOCUMENT_NOT_TRUSTED.value}}

    async def remember(self, hub: Hub, text: str, errors: list[GraphQLError] | None) -> None:
        """Store `text` after a run whose errors (if any) all came from fields: a document that did not parse or
        validate is never stored. A failure to store is logged: the client sends the document again next time."""
        if any(error.path is None for error in errors or ()):
            return
        try:
            if await documents.store_document(hub, text, max_documents=self.settings.persisted_queries_max):
                self._keep(documents.sha256_of(text), (text, False))
        except Exception:
            log.warning("could not store a persisted query", exc_info=True)

    async def _trusted(self, hub: Hub, sha: str) -> bool:
        found = await self._find(hub, sha)
        return found is not None and found[1]

    async def _find(self, hub: Hub, sha: str) -> tuple[str, bool] | None:
        known = self._known.get(sha)
        if known is not None and (known[1] or not self.settings.trusted_documents_only):
            self._known.move_to_end(sha)
            return known
        found = await documents.find_document(hub, sha)  # misses are not cached: another process may store it
        if found is not None:
            self._keep(sha, found)
        return found

    def _keep(self, sha: str, value: tuple[str, bool]) -> None:
        self._known[sha] = value
        self._known.move_to_end(sha)
        while len(self._known) > CACHE_SIZE:
            self._known.popitem(last=False)


def _checked_hash(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refused(RequestErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
                      f"{NOT_SUPPORTED_MESSAGE}: only extensions.persistedQuery.version 1 is supported.")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha):
        raise Refused(RequestErrorCode.BAD_REQUEST,
                      "extensions.persistedQuery.sha256Hash must be 64 lower-case hex digits (a SHA-256).")
    return sha
