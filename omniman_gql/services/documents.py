"""Persisted GraphQL documents: the store shared by every process (the database), by SHA-256 of the text."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sqlalchemy import func, select, update
from sqlmodel import col

from ..models import PersistedDocument, utcnow
from ..runtime import Hub

DOCUMENTS = PersistedDocument.__table__  # type: ignore[attr-defined]


def sha256_of(text: str) -> str:
    """The hash clients send (`extensions.persistedQuery.sha256Hash`): SHA-256 of the UTF-8 text, lower-case hex."""
    return hashlib.sha256(text.encode()).hexdigest()


async def find_document(hub: Hub, sha256: str) -> tuple[str, bool] | None:
    """(text, trusted) of the document with this hash; None if none is stored."""
    async with hub.transaction(readonly=True) as uow:
        row = (await uow.db.execute(select(col(PersistedDocument.document), col(PersistedDocument.trusted))
                                    .where(col(PersistedDocument.sha256) == sha256))).first()
    return (row[0], bool(row[1])) if row else None


async def store_document(hub: Hub, text: str, *, max_documents: int) -> bool:
    """Keep `text` under its hash unless the store holds `max_documents` already (then: False, nothing kept).
    Concurrent stores of one document meet on the primary key: one row, both True."""
    async with hub.transaction() as uow:
        count = (await uow.db.execute(select(func.count()).select_from(PersistedDocument))).scalar_one()
        if count >= max_documents:
            return False
        await uow.rows.insert_missing(DOCUMENTS, [{"sha256": sha256_of(text), "document": text, "trusted": False,
                                                     "created_at": utcnow()}])
    return True


async def register_trusted(hub: Hub, documents: Mapping[str, str]) -> None:
    """Register {hash: text} as trusted, all in one transaction (a document stored by a client becomes trusted)."""
    now = utcnow()
    async with hub.transaction() as uow:
        await uow.rows.insert_missing(DOCUMENTS, [{"sha256": sha, "document": text, "trusted": True,
                                                   "created_at": now} for sha, text in documents.items()])
        await uow.db.execute(update(PersistedDocument).where(col(PersistedDocument.sha256).in_(list(documents)))
                             .values(trusted=True))
