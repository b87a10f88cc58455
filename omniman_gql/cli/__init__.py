"""The `omniman` command line, the composition root of every process: serve, worker, sweeper, migrate, operator and
token commands. The one part of `omniman_gql` allowed to import the adapters (`schema`, `tasks`).

Each command is an `add_<name>(commands)` function registering a sub-parser whose `func(args) -> int` does the work.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from .database import alembic_config, upgrade_database
from .documents import DOCUMENT_COMMANDS
from .ops import OPS_COMMANDS
from .server import SERVER_COMMANDS
from .tokens import TOKEN_COMMANDS

__all__ = ["COMMANDS", "alembic_config", "build_parser", "main", "upgrade_database"]

COMMANDS: list[Callable[[Any], None]] = [*SERVER_COMMANDS, *OPS_COMMANDS, *TOKEN_COMMANDS, *DOCUMENT_COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omniman", description="Omniman GQL: a headless omnichannel order hub.")
    parser.add_argument("--version", action="version", version=f"omniman {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
