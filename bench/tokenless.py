"""An innocent request's latency while clients without a token send costly documents, against a running hub.

    python bench/tokenless.py --url http://127.0.0.1:8000/graphql --token TOKEN [--attackers 8] [--duration 15]

One client with a valid token loops a small query (`channels { code }`), first alone (`--baseline` seconds), then
while `--attackers` clients without any token each loop a document that repeats one field `--fields` times (400:
≈ 9 KB, the kind whose validation is slow) under a comment unique to each request, so that no document cache can
remember it. Prints ONE JSON line: the innocent request's p50/p95/p99 alone and under attack, how many attack
requests were answered and how (HTTP status and top-level error code), and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter

from benchlib import DEFAULT_URL, GraphQLFailure, KeepAliveConnection, error_counts, gql_lean, machine, percentiles

INNOCENT = "query Innocent { channels { code } }"
REPEATED = "channels { code name } "


def costly_document(fields: int) -> str:
    """The attack's document, new every time: a unique comment, then one field repeated `fields` times."""
    return f"# {uuid.uuid4().hex}\nquery {{ {REPEATED * fields}}}"


def answer_kind(status: int, content: bytes) -> str:
    """How an attack request was answered: `http:400`, `top:UNAUTHENTICATED`, `data`…"""
    if status != 200:
        return f"http:{status}"
    try:
        errors = json.loads(content).get("errors")
    except ValueError:
        return "not_json"
    if not errors:
        return "data"
    return f"top:{(errors[0].get('extensions') or {}).get('code') or errors[0].get('message', '')[:40]}"


async def innocent_loop(args: argparse.Namespace, until: float, samples: list[float], errors: Counter[str]) -> None:
    connection = KeepAliveConnection(args.url, args.token, args.timeout)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            try:
                await gql_lean(connection, INNOCENT, {}, "channels")
            except GraphQLFailure as exc:
                errors[exc.kind] += 1
                continue
            samples.append(time.perf_counter() - began)
    finally:
        connection.close()


async def attack_loop(args: argparse.Namespace, answers: Counter[str]) -> None:
    connection = KeepAliveConnection(args.url, None, args.timeout)
    try:
        while True:
            try:
                status, content = await connection.post({"query": costly_document(args.fields)})
            except GraphQLFailure as exc:
                answers[exc.kind] += 1
                continue
            answers[answer_kind(status, content)] += 1
    finally:
        connection.close()


async def main(args: argparse.Namespace) -> dict[str, object]:
    alone: list[float] = []
    errors: Counter[str] = Counter()
    await innocent_loop(args, time.perf_counter() + args.baseline, alone, errors)
    answers: Counter[str] = Counter()
    attackers = [asyncio.create_task(attack_loop(args, answers)) for _ in range(args.attackers)]
    await asyncio.sleep(args.warmup)  # every attacker has a request in flight before the innocent one is timed
    attacked: list[float] = []
    began = time.perf_counter()
    await innocent_loop(args, began + args.duration, attacked, errors)
    elapsed = time.perf_counter() - began
    for task in attackers:
        task.cancel()
    await asyncio.gather(*attackers, return_exceptions=True)
    return {
        "bench": "tokenless", "url": args.url, "attackers": args.attackers, "fields": args.fields,
        "document_bytes": len(costly_document(args.fields).encode()),
        "innocent_ms": {"alone": percentiles(alone), "under_attack": percentiles(attacked)},
        "attack_answers": error_counts(answers), "attack_requests_per_s": round(sum(answers.values()) / elapsed, 1),
        "innocent_errors": error_counts(errors), "duration_s": round(elapsed, 2), "machine": machine(),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--token", required=True, help="a valid API token, for the innocent request (any role)")
    parser.add_argument("--attackers", "-n", type=int, default=8, help="clients without a token (default 8)")
    parser.add_argument("--fields", type=int, default=400, help="times the attack document repeats its field "
                                                                  "(default 400)")
    parser.add_argument("--duration", "-d", type=float, default=15.0, help="seconds measured under attack "
                                                                           "(default 15)")
    parser.add_argument("--baseline", type=float, default=3.0, help="seconds measured alone first (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of attack before measuring (default 1)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout in seconds")
    args = parser.parse_args(argv)
    if not 0 <= args.attackers <= 1000 or not 0 < args.duration <= 3600 or args.fields < 1:
        parser.error("--attackers must be 0..1000, --duration 0..3600 and --fields at least 1")
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))), flush=True)
