"""Operator commands of `omniman`: `demo`, `channel apply FILE`, `directives list|retry`, `purge`, `settings-doc`.

Registered in `omniman_gql.cli.COMMANDS`; each runs one short asyncio program on a Hub of its own (the database
named by the settings) and prints what it did. Expected failures print `error: …` lines on stderr and exit with
status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import OmnimanError
from ..runtime import Hub
from ..settings import Settings, get_settings
from .database import upgrade_database

T = TypeVar("T")
Commands = Any  # argparse's private _SubParsersAction
DIRECTIVE_STATUSES = ("queued", "running", "done", "failed")


def _run(settings: Settings, work: Callable[[Hub], Awaitable[T]], *, dispatcher: Any = None) -> T:
    async def main() -> T:
        hub = Hub.create(settings, **({"dispatcher": dispatcher} if dispatcher is not None else {}))
        try:
            return await work(hub)
        finally:
            await hub.dispose()

    return asyncio.run(main())


def _errors(exc: OmnimanError) -> int:
    for error in exc.errors():
        print(f"error: {error.message}", file=sys.stderr)
    return 1


def _prepare_database(settings: Settings) -> None:
    if settings.is_sqlite:  # as `serve` does: a new user's first command may be this one
        upgrade_database(settings)


# ---------------------------------------------------------------------------------------------------------------------
# demo


def add_demo(commands: Commands) -> None:
    parser = commands.add_parser(
        "demo", help="seed a demo coffee shop (channels, prices, customers, stock); safe to run again",
        description="Create or refresh the demo coffee shop in the configured database: channels `pos` (priced by "
                    "the hub, open tabs), `ecommerce` (stock check before commit, stock commit and payment capture "
                    "after it, release and refund on cancel) and `ifood` (locked, priced by the platform), a price "
                    "table with a `staff` price list, two customers and on-hand stock levels (set back to the demo "
                    "levels on every run).")
    parser.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..services.provisioning import seed_demo

    settings = get_settings()
    _prepare_database(settings)
    try:
        report = _run(settings, seed_demo)
    except OmnimanError as exc:
        return _errors(exc)
    print(f"Demo coffee shop in {settings.database_url}:")
    for channel in report.channels:
        print(f"  channel {channel.code:<10} {channel.outcome}")
    print("  prices   " + ", ".join(f"{sku} {price / 100:.2f}" for sku, price in report.prices))
    print("  staff    price list `staff` at the counter (pos): COFFEE, ESPRESSO, CROISSANT")
    print("  stock    " + ", ".join(f"{sku} {qty}" for sku, qty in report.stock))
    print("  customers " + ", ".join(f"{code} {name}" + (f" ({price_list} prices)" if price_list else "")
                                     for code, name, price_list in report.customers))
    print("\nNext steps:\n"
          "  omniman serve                          # the API, GraphiQL and the kitchen display; the first\n"
          "                                         # start prints an admin token (or: omniman token create)\n"
          "  open http://127.0.0.1:8000/graphql     # GraphiQL opens on a quick start (a POS tab)\n"
          "  open http://127.0.0.1:8000/kds         # kitchen display (?channels=pos,ecommerce)\n"
          "  open http://127.0.0.1:8000/console     # operator console (a staff or admin token)\n"
          "  omniman directives list                # side effects: stock holds, payment captures\n"
          "See docs/cookbook.md for the web shop (stock checks) and delivery-platform imports.")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# channel apply


def add_channel(commands: Commands) -> None:
    parser = commands.add_parser("channel", help="channel tools (apply a YAML/JSON file)",
                                 description="Channel tools.")
    tools = parser.add_subparsers(dest="channel_command", required=True, metavar="TOOL")
    apply = tools.add_parser(
        "apply", help="create or update channels from a YAML or JSON file (all or nothing)",
        description="Create or update the channels of FILE, a YAML or JSON document: {\"channels\": [...]} or a "
                    "list. Each channel has `code` and any of name, pricing_policy, edit_policy, currency, "
                    "display_order, is_active, config. Every channel is checked first; one bad key names the "
                    "channel and the key, and nothing is applied. Applying the same file again changes nothing.")
    apply.add_argument("file", type=Path, metavar="FILE", help="YAML (.yaml/.yml) or JSON (.json) file; - for stdin")
    apply.add_argument("--dry-run", action="store_true", help="check the file only; write nothing")
    apply.set_defaults(func=cmd_channel_apply)


def cmd_channel_apply(args: argparse.Namespace) -> int:
    from ..services.provisioning import apply_channels, check_channel_document, parse_channel_document

    source = "stdin" if str(args.file) == "-" else str(args.file)
    try:
        text = sys.stdin.read() if source == "stdin" else args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return 1
    settings = get_settings()
    try:
        entries = parse_channel_document(text, source=source)
        if args.dry_run:
            checked = _run(settings, _async(lambda hub: check_channel_document(hub, entries)))
            print(f"{source}: {len(checked)} channel(s) are valid; nothing written (--dry-run).")
            return 0
        # Recorded as the actor of each channel's history entry (the command line has no token to name).
        applied = _run(settings, lambda hub: apply_channels(hub, entries, actor=f"cli: channels apply {source}"))
    except OmnimanError as exc:
        _errors(exc)
        print(f"Nothing was applied from {source}.", file=sys.stderr)
        return 1
    for channel in applied:
        print(f"channel {channel.code:<16} {channel.outcome}")
    print(f"{len(applied)} channel(s) applied from {source}.")
    return 0


def _async(fn: Callable[[Hub], T]) -> Callable[[Hub], Awaitable[T]]:
    async def call(hub: Hub) -> T:
        return fn(hub)

    return call


# ---------------------------------------------------------------------------------------------------------------------
# directives list | retry


def add_directives(commands: Commands) -> None:
    parser = commands.add_parser("directives", help="list directives, retry a failed one",
                                 description="Directives are the hub's side effects (stock holds, payment captures, "
                                             "notifications). List them, or re-run a failed one.")
    tools = parser.add_subparsers(dest="directives_command", required=True, metavar="TOOL")
    listing = tools.add_parser("list", help="directives, newest first",
                               description="Directives, newest first, optionally by status and topic.")
    listing.add_argument("--status", choices=DIRECTIVE_STATUSES, help="only this status")
    listing.add_argument("--topic", help="only this topic (e.g. payment.capture)")
    listing.add_argument("--limit", type=int, default=50, help="how many (1 to 1000, default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_directives_list)
    retry = tools.add_parser("retry", help="queue a failed directive again",
                             description="Queue a failed directive again, due now. With OMNIMAN_REDIS_URL it is "
                                         "sent to the workers at once; otherwise the running hub's sweeper picks it "
                                         "up (within OMNIMAN_DIRECTIVE_REDISPATCH_AFTER_S).")
    retry.add_argument("id", type=int, metavar="ID", help="the directive's id")
    retry.set_defaults(func=cmd_directives_retry)


def cmd_directives_list(args: argparse.Namespace) -> int:
    from ..services.reads import directive_page

    if not 1 <= args.limit <= 1000:
        print("error: --limit must be between 1 and 1000", file=sys.stderr)
        return 2
    page = _run(get_settings(), lambda hub: directive_page(hub, first=args.limit, topic=args.topic,
                                                           status=args.status))
    rows = page.rows
    if args.json:
        for row in rows:
            print(json.dumps(_directive_dict(row), default=str))
        return 0
    if not rows:
        print("No directives.")
        return 0
    print(f"{'ID':>6}  {'TOPIC':<18} {'STATUS':<8} {'TRIES':>5}  {'ORDER':<24} {'UPDATED':<19}  LAST ERROR")
    for row in rows:
        updated = row.updated_at.strftime("%Y-%m-%d %H:%M:%S")
        error = (row.last_error or "").replace("\n", " ")
        print(f"{row.id:>6}  {row.topic:<18} {row.status:<8} {row.attempts:>5}  {row.order_ref or '-':<24} "
              f"{updated:<19}  {error[:70]}")
    return 0


def _directive_dict(row: Any) -> dict[str, Any]:
    keys = ("id", "topic", "status", "attempts", "order_ref", "payload", "last_error", "available_at", "created_at",
            "started_at", "updated_at")
    return {key: getattr(row, key) for key in keys}


def cmd_directives_retry(args: argparse.Namespace) -> int:
    from ..services.directives import retry_directive

    settings = get_settings()
    dispatcher = None
    if settings.redis_url:
        from tasks.dispatch import dispatcher_for

        dispatcher = dispatcher_for(settings)
    try:
        row = _run(settings, lambda hub: retry_directive(hub, directive_id=args.id), dispatcher=dispatcher)
    except OmnimanError as exc:
        return _errors(exc)
    where = "sent to the workers" if dispatcher is not None else "the running hub's sweeper will run it"
    print(f"Directive {row.id} ({row.topic}) is queued again: {where}.")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# settings-doc


def add_settings_doc(commands: Commands) -> None:
    parser = commands.add_parser(
        "settings-doc", help="print the settings reference (Markdown), as in docs/settings.md",
        description="Print every OMNIMAN_* setting with its type, default and description, generated from the "
                    "Settings class (docs/settings.md is this output).")
    parser.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    parser.set_defaults(func=cmd_settings_doc)


def cmd_settings_doc(args: argparse.Namespace) -> int:
    from .settings_doc import settings_markdown

    text = settings_markdown()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# purge


def add_purge(commands: Commands) -> None:
    parser = commands.add_parser(
        "purge", help="delete what is past its retention (keys, done directives, abandoned sessions)",
        description="Delete idempotency keys older than OMNIMAN_IDEMPOTENCY_KEY_TTL, `done` directives older than "
                    "OMNIMAN_DIRECTIVE_RETENTION and abandoned sessions older than OMNIMAN_SESSION_RETENTION "
                    "(`failed` directives are kept), OMNIMAN_RETENTION_BATCH rows per transaction; prints the count "
                    "per kind. The sweeper does the same every OMNIMAN_RETENTION_INTERVAL_S.")
    parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted; delete nothing")
    parser.set_defaults(func=cmd_purge)


def cmd_purge(args: argparse.Namespace) -> int:
    from ..services.retention import purge

    settings = get_settings()
    counts = _run(settings, lambda hub: purge(hub, dry_run=args.dry_run))
    verb = "would remove" if args.dry_run else "removed"
    for kind, count in counts.items():
        print(f"{kind:<17} {verb} {count}")
    if args.dry_run:
        print("Nothing was deleted (--dry-run).")
    return 0


OPS_COMMANDS = [add_demo, add_channel, add_directives, add_purge, add_settings_doc]
