"""Generators of the human-facing identifiers: SESS-…, L-…, ORD-YYYYMMDD-…, ISS-…, ACT-…, HLD-…, FUL-…."""

from __future__ import annotations

import datetime as dt
import secrets

# No 0/O, 1/I/L: identifiers are read aloud at counters and typed from receipts.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


_ACCEPTED = 256 - 256 % len(ALPHABET)  # random bytes from here up are dropped, so every character stays as likely


def random_code(length: int) -> str:
    # One read of the OS's random source per code, where secrets.choice would make one per character.
    chosen: list[str] = []
    while len(chosen) < length:
        chosen.extend(ALPHABET[byte % len(ALPHABET)] for byte in secrets.token_bytes(length) if byte < _ACCEPTED)
    return "".join(chosen[:length])


def session_key() -> str:
    return "SESS-" + random_code(12)


def line_id() -> str:
    return "L-" + random_code(8)


def order_ref(now: dt.datetime) -> str:
    return f"ORD-{now:%Y%m%d}-" + random_code(8)


def issue_id() -> str:
    return "ISS-" + random_code(10)


def action_id() -> str:
    return "ACT-" + random_code(10)


def hold_id() -> str:
    return "HLD-" + random_code(12)


def fulfillment_ref() -> str:
    return "FUL-" + random_code(10)


def commit_token() -> str:
    return secrets.token_urlsafe(16)


def customer_code() -> str:
    return "CUS-" + random_code(8)
