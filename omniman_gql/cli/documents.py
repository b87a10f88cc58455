"""`omniman documents add FILE…`: register trusted GraphQL documents (for `OMNIMAN_TRUSTED_DOCUMENTS_ONLY`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from schema.trusted_documents import check_document, documents_in, graphql_schema

from ..runtime import Hub
from ..services import documents
from ..settings import get_settings

Commands = Any  # argparse's private _SubParsersAction
MAX_FILE_BYTES = 1024 * 1024


def add_documents(commands: Commands) -> None:
    parser = commands.add_parser(
        "documents", help="register trusted GraphQL documents",
        description="Trusted documents: with OMNIMAN_TRUSTED_DOCUMENTS_ONLY=true the hub runs only these.")
    tools = parser.add_subparsers(dest="documents_command", required=True, metavar="ACTION")
    add = tools.add_parser(
        "add", help="check and register .graphql files (all or none)",
        description="Each FILE is one GraphQL document (one or more operations and their fragments), or a .json "
                    "Apollo persisted-query manifest (@apollo/generate-persisted-query-manifest). Every file must "
                    "parse and validate against the schema, else nothing is registered. Each is registered under "
                    "the SHA-256 of its text and of its text as graphql-js prints it; the hashes are printed.")
    add.add_argument("files", nargs="+", metavar="FILE", type=Path, help="a .graphql file or a .json manifest")
    add.set_defaults(func=_add)


def _add(args: argparse.Namespace) -> int:
    settings = get_settings()
    schema = graphql_schema(settings)
    checked, failed = [], False
    for path in args.files:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            failed = True
            continue
        found = documents_in(str(path), text)
        if isinstance(found, str):
            print(f"error: {path}: {found}", file=sys.stderr)
            failed = True
            continue
        for label, document in found:
            result = check_document(label, document, schema, settings)
            for problem in result.problems:
                print(f"error: {label}: {problem}", file=sys.stderr)
            failed = failed or bool(result.problems)
            checked.append(result)
    if failed:
        print("error: nothing was registered", file=sys.stderr)
        return 1
    texts = {sha: text for result in checked for sha, text in result.texts.items()}

    async def register() -> None:
        hub = Hub.create(settings)
        try:
            await documents.register_trusted(hub, texts)
        finally:
            await hub.dispose()

    asyncio.run(register())
    for result in checked:
        print(f"{result.name}: {' '.join(sorted(result.texts))}")
    print(f"registered {len(checked)} document(s) under {len(texts)} hash(es)")
    return 0


DOCUMENT_COMMANDS = [add_documents]
