"""Commands that run the hub's processes: `serve` (web), `worker` and `sweeper` (directives), `migrate`, `schema`.

They are the processes' composition roots, so they import the adapters (`schema`, `tasks`) openly; uvicorn and
dramatiq still get the web app and the broker by name (`schema.asgi:create_app`, `tasks.broker:broker`), because each
of their worker processes imports them itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..settings import get_settings
from .database import upgrade_database
from .tokens import announce_first_admin_token

ASGI_FACTORY = "schema.asgi:create_app"
Commands = Any  # argparse's private _SubParsersAction


def _say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------------------------------
# serve


def add_serve(commands: Commands) -> None:
    parser = commands.add_parser(
        "serve", help="run the hub (GraphQL API, GraphiQL, /health) with uvicorn",
        description="Run the hub. With no settings it uses ./omniman.db (SQLite), creating or upgrading it first; "
                    "set OMNIMAN_DATABASE_URL (and run `omniman migrate`) for PostgreSQL.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="uvicorn worker processes (default 1)")
    parser.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    parser.add_argument("--no-migrate", action="store_true",
                        help="do not create/upgrade a SQLite database before starting")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn log level (default info)")
    parser.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    if settings.is_sqlite and not args.no_migrate:
        upgrade_database(settings)
        _say(f"Database {settings.database_url} is up to date.")
    elif not settings.is_sqlite:
        _say("Using the configured database; run `omniman migrate` after each upgrade of Omniman.")
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{args.port}"
    _say(f"Omniman GQL {__version__} on {base}")
    _say(f"GraphiQL: {base}/graphql" if settings.graphiql else f"GraphQL endpoint: {base}/graphql")
    _say(f"Health: {base}/health")
    announce_first_admin_token(settings, base)
    uvicorn.run(ASGI_FACTORY, factory=True, host=args.host, port=args.port, workers=args.workers,
                reload=args.reload, log_level=args.log_level,
                access_log=not settings.log_json,  # with JSON logs, the request lines replace uvicorn's
                # Browsers offer permessage-deflate; accepting it costs a compressor's memory and a compression per
                # message for every kitchen display socket (bench/README.md), and GraphQL events are small.
                ws_per_message_deflate=False)
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# migrate


def add_migrate(commands: Commands) -> None:
    parser = commands.add_parser(
        "migrate", help="create or upgrade the database schema (Alembic)",
        description="Upgrade the database named by OMNIMAN_DATABASE_URL to the given revision (default: head).")
    parser.add_argument("--revision", default="head", help="target revision (default head)")
    parser.set_defaults(func=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    upgrade_database(settings, args.revision)
    _say(f"Database {settings.database_url} is at {args.revision}.")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# schema export


def add_schema(commands: Commands) -> None:
    parser = commands.add_parser("schema", help="GraphQL schema tools",
                                 description="GraphQL schema tools.")
    tools = parser.add_subparsers(dest="schema_command", required=True, metavar="TOOL")
    export = tools.add_parser("export", help="print the GraphQL schema (SDL)",
                              description="Print the schema in GraphQL SDL, as checked in at schema/schema.graphql.")
    export.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    export.set_defaults(func=cmd_schema_export)


def cmd_schema_export(args: argparse.Namespace) -> int:
    from schema.build import schema

    sdl = str(schema) + "\n"
    if args.output:
        args.output.write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# worker and sweeper (directives)

BROKER = "tasks.broker:broker"
ACTORS = "tasks.actors"


def add_worker(commands: Commands) -> None:
    parser = commands.add_parser(
        "worker", help="run dramatiq workers that execute directives (needs OMNIMAN_REDIS_URL)",
        description="Run directive workers on the Redis broker (OMNIMAN_REDIS_URL). Start as many as you like, on "
                    "any machines. Without Redis, `omniman serve` runs directives itself.")
    parser.add_argument("--processes", "-p", type=int, default=2, metavar="N", help="worker processes (default 2)")
    parser.add_argument("--threads", "-t", type=int, default=4, metavar="M",
                        help="concurrent directives per process (default 4)")
    parser.set_defaults(func=cmd_worker)


def worker_command(processes: int, threads: int) -> list[str]:
    return [sys.executable, "-m", "dramatiq", BROKER, ACTORS, "--queues", "directives",
            "--processes", str(processes), "--threads", str(threads)]


def cmd_worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.redis_url:
        print("omniman worker needs OMNIMAN_REDIS_URL: without Redis, `omniman serve` runs the directives itself.",
              file=sys.stderr)
        return 2
    if args.processes < 1 or args.threads < 1:
        print("--processes and --threads must be at least 1", file=sys.stderr)
        return 2
    # dramatiq reads its idle poll timeout from the environment; its 1 s default adds latency at low traffic.
    env = {**os.environ, "dramatiq_worker_timeout": str(settings.worker_timeout_ms)}
    _say(f"Directive workers: {args.processes} process(es) × {args.threads} thread(s) on {settings.broker_namespace}")
    os.execve(sys.executable, worker_command(args.processes, args.threads), env)  # signals go straight to dramatiq
    return 0  # not reached


def add_sweeper(commands: Commands) -> None:
    parser = commands.add_parser(
        "sweeper", help="re-send due directives whose message was lost, release expired holds (a loop)",
        description="The directive safety net, as its own process (run one next to the workers). Every "
                    "OMNIMAN_SWEEPER_INTERVAL_S it re-sends due queued directives (a message lost by the broker) "
                    "and releases expired stock holds; it also takes over directives whose lease expired, which "
                    "every worker's heartbeat does by itself.")
    parser.set_defaults(func=cmd_sweeper)


def cmd_sweeper(args: argparse.Namespace) -> int:
    from tasks import sweeper

    sweeper.main()
    return 0


SERVER_COMMANDS = [add_serve, add_migrate, add_schema, add_worker, add_sweeper]
