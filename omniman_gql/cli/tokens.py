"""`omniman token create|list|revoke`, and the first admin token `omniman serve` makes on a database without any.

`token create` prints the new token alone on its last line of output, so scripts can capture it
(`TOKEN=$(omniman token create --role client --channel pos --name till-1 | tail -n 1)`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import OmnimanError
from ..live.stream import create_pubsub
from ..runtime import Hub
from ..services import auth
from ..settings import Settings, get_settings

T = TypeVar("T")
Commands = Any  # argparse's private _SubParsersAction


def _run(settings: Settings, work: Callable[[Hub], Awaitable[T]]) -> T:
    """Run `work` on a Hub of its own. With Redis, what it publishes (a revocation) reaches every running server at
    once; without, servers notice a revocation within `token_cache_s` (requests) and `token_recheck_s` (websockets)."""

    async def main() -> T:
        pubsub = create_pubsub(settings) if settings.redis_url else None
        hub = Hub.create(settings, **({"publisher": pubsub} if pubsub is not None else {}))
        try:
            return await work(hub)
        finally:
            await hub.dispose()
            if pubsub is not None:
                await pubsub.aclose()

    return asyncio.run(main())


def _fail(exc: OmnimanError) -> int:
    for error in exc.errors():
        print(f"error: {error.message}", file=sys.stderr)
    return 1


def add_token(commands: Commands) -> None:
    parser = commands.add_parser(
        "token", help="create, list and revoke API tokens",
        description="API tokens: `Authorization: Bearer <token>` on HTTP, {\"Authorization\": \"Bearer <token>\"} in "
                    "the websocket connection_init. Only a hash is stored; the token is shown once, at creation.")
    tools = parser.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = tools.add_parser(
        "create", help="create a token and print it (alone, on the last line)",
        description="Create a token. Roles: admin (everything), staff (every channel's sessions and orders, status "
                    "transitions), client (open/modify/commit and read on its channels), display (read and "
                    "subscribe on its channels). The token is printed alone on the last line of output.")
    create.add_argument("--role", required=True, choices=[role.value for role in auth.Role], help="what it may do")
    create.add_argument("--channel", action="append", default=[], metavar="CODE", dest="channels",
                        help="a channel it may touch (client and display tokens; repeat for several)")
    create.add_argument("--name", required=True, help="who uses it; recorded as the actor of the events it causes")
    create.set_defaults(func=cmd_token_create)
    listing = tools.add_parser("list", help="list tokens (never their secrets)",
                               description="List tokens: id, role, name, channels, prefix, created and revoked times.")
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    listing.set_defaults(func=cmd_token_list)
    revoke = tools.add_parser("revoke", help="revoke a token at once",
                              description="Revoke a token: requests with it fail and its open websockets are closed "
                                          "(at once with Redis; without, within OMNIMAN_TOKEN_CACHE_S and "
                                          "OMNIMAN_TOKEN_RECHECK_S).")
    revoke.add_argument("id", type=int, help="the token's id (see `omniman token list`)")
    revoke.set_defaults(func=cmd_token_revoke)


def cmd_token_create(args: argparse.Namespace) -> int:
    try:
        row, secret = _run(get_settings(), lambda hub: auth.create_token(
            hub, name=args.name, role=args.role, channels=args.channels))
    except OmnimanError as exc:
        return _fail(exc)
    scope = ", ".join(row.channels) if row.channels else "every channel"
    print(f"Created {row.role} token {row.id} {row.name!r} ({scope}). It is shown only now; keep it secret.")
    print("Use it as `Authorization: Bearer <token>`:")
    print(secret, flush=True)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    rows = _run(get_settings(), lambda hub: auth.list_tokens(hub, include_revoked=args.all))
    print(f"{'id':>5}  {'role':<8} {'name':<24} {'prefix':<12} {'created':<20} {'revoked':<20} channels")
    for row in rows:
        revoked = row.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if row.revoked_at else "-"
        print(f"{row.id:>5}  {row.role:<8} {row.name[:24]:<24} {row.prefix + '…':<12} "
              f"{row.created_at:%Y-%m-%d %H:%M:%S}  {revoked:<20} {', '.join(row.channels) or '(all)'}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    try:
        row = _run(get_settings(), lambda hub: auth.revoke_token(hub, token_id=args.id))
    except OmnimanError as exc:
        return _fail(exc)
    print(f"Revoked token {row.id} {row.name!r}.")
    return 0


def first_admin_token(settings: Settings) -> str | None:
    """On a database without any token, create an admin token (for `omniman serve`) and return it; else None."""

    async def work(hub: Hub) -> str | None:
        if await auth.count_tokens(hub):
            return None
        _row, secret = await auth.create_token(hub, name="admin", role=auth.Role.ADMIN.value)
        return secret

    return _run(settings, work)


def announce_first_admin_token(settings: Settings, base_url: str) -> None:
    """`omniman serve`'s part: print a new admin token once, and how to use it; a database not migrated yet is
    left alone (the server's /health tells what is wrong)."""
    try:
        secret = first_admin_token(settings)
    except Exception as exc:  # noqa: BLE001 - e.g. PostgreSQL before `omniman migrate`; serving goes on
        print(f"Could not look for API tokens ({type(exc).__name__}); has `omniman migrate` run?", file=sys.stderr)
        return
    if secret is None:
        return
    print("No API tokens yet, so here is an admin token. It is shown only this once; keep it secret:", flush=True)
    print(f"    {secret}")
    print(f"Send it as `Authorization: Bearer {secret}`; in GraphiQL ({base_url}/graphql) paste it into the "
          "\"API token\" box at the top right. More tokens: `omniman token create --help`.", flush=True)


TOKEN_COMMANDS = [add_token]
