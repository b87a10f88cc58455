"""`omniman reftypes list|apply FILE`: the hub's ref types, and new or changed ones from a YAML/JSON file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from ..errors import OmnimanError
from ..settings import get_settings
from .ops import _errors, _prepare_database, _run

MAX_DOCUMENT_BYTES = 256 * 1024


def add_reftypes(commands: Any) -> None:
    parser = commands.add_parser("reftypes", help="ref types (list, apply a YAML/JSON file)",
                                 description="Ref types: tables, tabs, tickets, platform ids and your own.")
    tools = parser.add_subparsers(dest="reftypes_command", required=True, metavar="TOOL")
    listing = tools.add_parser("list", help="every ref type of the hub", description="Every ref type, by code.")
    listing.set_defaults(func=cmd_list)
    apply = tools.add_parser(
        "apply", help="create or replace ref types from a YAML or JSON file (all or nothing)",
        description="Create or replace the ref types of FILE: {\"ref_types\": [...]} or a list, each with code, "
                    "label, target (session|order|both), scope (channel|business_day), copy_to_order, "
                    "expires_on_close. Every entry is checked first; one bad key is named and nothing is applied.")
    apply.add_argument("file", type=Path, metavar="FILE", help="YAML (.yaml/.yml) or JSON (.json) file; - for stdin")
    apply.set_defaults(func=cmd_apply)


def cmd_list(args: argparse.Namespace) -> int:
    from ..services.refs import list_ref_types

    settings = get_settings()
    _prepare_database(settings)
    for spec in _run(settings, list_ref_types):
        flags = ",".join(f for f in ("copy_to_order", "expires_on_close") if getattr(spec, f)) or "-"
        print(f"{spec.code:<12} {spec.target:<8} {spec.scope:<13} {flags:<30} {spec.label}")
    return 0


def _document(text: str, source: str) -> Any:
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{source} is larger than {MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    if isinstance(document, dict):
        extra = sorted(set(document) - {"ref_types"})
        if extra:
            raise ValueError(f"{source}: unknown top-level key {extra[0]!r}; the document is "
                             "{\"ref_types\": [...]} or a list of ref types")
        document = document.get("ref_types")
    return document


def cmd_apply(args: argparse.Namespace) -> int:
    from ..services.refs import apply_ref_types

    source = "stdin" if str(args.file) == "-" else str(args.file)
    try:
        text = sys.stdin.read() if source == "stdin" else args.file.read_text(encoding="utf-8")
        document = _document(text, source)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return 1
    settings = get_settings()
    _prepare_database(settings)
    try:
        applied = _run(settings, lambda hub: apply_ref_types(hub, document))
    except OmnimanError as exc:
        _errors(exc)
        print(f"Nothing was applied from {source}.", file=sys.stderr)
        return 1
    for spec in applied:
        print(f"ref type {spec.code:<12} applied")
    print(f"{len(applied)} ref type(s) applied from {source}.")
    return 0


REFTYPES_COMMANDS = [add_reftypes]
