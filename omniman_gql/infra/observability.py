"""Observability: Prometheus metrics (`GET /metrics`) and, when `log_json` is on, one JSON line per request and per
directive run.

Counters live in the process that counts them (prometheus_client's own registry per process): behind a load balancer
every web process must be scraped on its own, and directive counters are those of the process that ran them (the web
process in the embedded default, the `omniman worker` processes with Redis). `omniman_directives{status}` is the
exception: it is read from the database at scrape time, so any one process reports the whole cluster's backlog.

The GraphQL adapter reports each operation through `operation_finished` (it knows the operation, the caller and the
result); `ObservabilityMiddleware` wraps every HTTP request (request id, status, duration) and writes the line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..models import Directive
from ..settings import Settings
from .admin_only import admin_refusal

log = logging.getLogger(__name__)
REQUEST_LOG = logging.getLogger("omniman.requests")
DIRECTIVE_LOG = logging.getLogger("omniman.directive_runs")

REGISTRY = CollectorRegistry(auto_describe=True)
GRAPHQL_REQUESTS = Counter(
    "omniman_graphql_requests", "GraphQL operations by root field, type and outcome (ok, rejected = payload errors, "
    "error = top-level errors).", ["operation", "type", "outcome"], registry=REGISTRY)
GRAPHQL_ERRORS = Counter(
    "omniman_graphql_errors", "Errors of GraphQL operations by code: top-level extensions.code (UNAUTHENTICATED, "
    "FORBIDDEN, INTERNAL_SERVER_ERROR, GRAPHQL_VALIDATION_FAILED…) or a payload error's code.",
    ["operation", "code"], registry=REGISTRY)
GRAPHQL_DURATION = Histogram(
    "omniman_graphql_duration_seconds", "Time to answer a query or mutation.", ["type"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
HTTP_REQUESTS = Counter(
    "omniman_http_requests", "HTTP requests by route and status code.", ["route", "status"], registry=REGISTRY)
SUBSCRIPTIONS_OPEN = Gauge(
    "omniman_subscriptions_open", "Subscriptions running in this process.", ["subscription"], registry=REGISTRY)
DIRECTIVE_RUNS = Counter(
    "omniman_directive_runs", "Directive runs by topic and outcome (done, retry, failed, lost = reclaimed meanwhile).",
    ["topic", "outcome"], registry=REGISTRY)
DIRECTIVE_DURATION = Histogram(
    "omniman_directive_duration_seconds", "Time of one directive run (claim, handler, outcome).", ["topic"],
    registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))
DIRECTIVE_BACKLOG = Gauge(
    "omniman_directives", "Directives not yet done, by status (read from the database at scrape time: cluster-wide).",
    ["status"], registry=REGISTRY)
BACKLOG_STATUSES = ("queued", "running", "failed")
RATE_LIMITED = Counter(
    "omniman_rate_limited", "Requests refused with RATE_LIMITED, by the limit they were over (modify, commit, read, "
    "auth_failures).", ["limit"], registry=REGISTRY)
PURGED_ROWS = Counter(
    "omniman_purged_rows", "Rows deleted past their retention, by kind (idempotency_keys, directives, sessions), "
    "by the sweeper and `omniman purge` run in this process.", ["kind"], registry=REGISTRY)

MAX_REQUEST_ID = 64
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass
class RequestRecord:
    """What one HTTP request did; the GraphQL adapter fills in the operation part."""

    request_id: str
    method: str
    path: str
    operation: str | None = None
    operation_name: str | None = None
    operation_type: str | None = None
    actor: str | None = None
    outcome: str | None = None
    error_codes: list[str] = field(default_factory=list)


current_request: ContextVar[RequestRecord | None] = ContextVar("omniman_request", default=None)


# ---------------------------------------------------------------------------------------------------------------------
# JSON lines


class JsonLineFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "event", …fields}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage(),
                **(getattr(record, "fields", None) or {})}
        return json.dumps(line, default=str, separators=(",", ":"), ensure_ascii=False)


class StdoutHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is when the record is emitted (12-factor logs; test captures work too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never break the request
            self.handleError(record)


def enable_json_logs() -> None:
    """Send the request and directive lines to stdout as JSON (once per process; idempotent)."""
    for logger in (REQUEST_LOG, DIRECTIVE_LOG):
        if not any(isinstance(h, StdoutHandler) for h in logger.handlers):
            handler = StdoutHandler()
            handler.setFormatter(JsonLineFormatter())
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _write(logger: logging.Logger, event: str, fields: dict[str, Any]) -> None:
    enable_json_logs()
    logger.info(event, extra={"fields": fields})


# ---------------------------------------------------------------------------------------------------------------------
# GraphQL operations


@dataclass(frozen=True)
class OperationReport:
    """One finished GraphQL operation, as the adapter saw it."""

    operation: str  # the first root field (bounded by the schema), or "invalid" for a document that did not validate
    operation_type: str  # query | mutation | subscription | unknown
    operation_name: str | None  # the client's operationName, for logs only (unbounded, so never a label)
    actor: str | None
    outcome: str  # ok | rejected | error
    error_codes: tuple[str, ...]
    duration_s: float
    transport: str  # http | ws


_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, remembered: labels() validates and locks on every call, a dict lookup does
    not. The label values are bounded (schema fields, error codes, types), so this stays small."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def operation_finished(settings: Settings, report: OperationReport) -> None:
    """Count the operation; over HTTP the request's line carries it, over a websocket it gets a line of its own."""
    _child(GRAPHQL_REQUESTS, report.operation, report.operation_type, report.outcome).inc()
    for code in report.error_codes:
        _child(GRAPHQL_ERRORS, report.operation, code).inc()
    if report.operation_type != "subscription":
        _child(GRAPHQL_DURATION, report.operation_type).observe(report.duration_s)
    record = current_request.get()
    if record is not None and report.transport == "http":
        record.operation, record.operation_type = report.operation, report.operation_type
        record.operation_name, record.actor = report.operation_name, report.actor
        record.outcome, record.error_codes = report.outcome, list(report.error_codes)
    elif settings.log_json:
        _write(REQUEST_LOG, "operation", {
            "transport": report.transport, "operation": report.operation, "operation_name": report.operation_name,
            "operation_type": report.operation_type, "actor": report.actor, "outcome": report.outcome,
            "error_codes": list(report.error_codes), "duration_ms": round(report.duration_s * 1000, 2)})


def request_refused(limit: str) -> None:
    """A request (or websocket `connection_init` or `subscribe`) refused by a rate limit."""
    _child(RATE_LIMITED, limit).inc()


def rows_purged(counts: dict[str, int]) -> None:
    """Rows a purge deleted, per kind."""
    for kind, count in counts.items():
        if count:
            _child(PURGED_ROWS, kind).inc(count)


def subscription_started(name: str) -> None:
    SUBSCRIPTIONS_OPEN.labels(name).inc()


def subscription_ended(name: str) -> None:
    SUBSCRIPTIONS_OPEN.labels(name).dec()


# ---------------------------------------------------------------------------------------------------------------------
# directives


def directive_finished(settings: Settings, *, directive_id: int, topic: str, status: str, attempts: int,
                       duration_s: float, retry_in_ms: int | None = None) -> None:
    """Count and log one directive run (a delivery that claimed the row; `status` is its RunOutcome status)."""
    outcome = {"done": "done", "queued": "retry", "failed": "failed"}.get(status, "lost")
    DIRECTIVE_RUNS.labels(topic, outcome).inc()
    DIRECTIVE_DURATION.labels(topic).observe(duration_s)
    if settings.log_json:
        _write(DIRECTIVE_LOG, "directive", {"directive_id": directive_id, "topic": topic, "outcome": outcome,
                                            "attempts": attempts, "duration_ms": round(duration_s * 1000, 2),
                                            "retry_in_ms": retry_in_ms})


# ---------------------------------------------------------------------------------------------------------------------
# HTTP: the middleware and the /metrics endpoint


class ObservabilityMiddleware:
    """Per HTTP request: a request id (the client's `X-Request-ID` when sane, else a new one, echoed back), the
    HTTP counter, and the JSON line when `log_json` is on. Websockets pass through (operations report themselves)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        record = RequestRecord(request_id=request_id, method=scope.get("method", ""), path=scope.get("path", ""))
        token = current_request.set(record)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request.reset(token)
            duration_s = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            _child(HTTP_REQUESTS, route, str(status)).inc()
            if self.settings.log_json:
                fields = {k: v for k, v in asdict(record).items() if v not in (None, [])}
                _write(REQUEST_LOG, "request", {**fields, "status": status,
                                                "duration_ms": round(duration_s * 1000, 2)})


async def directive_backlog(hub: Any) -> dict[str, int]:
    """Directives per not-done status (served by the status index; `done` rows are never counted)."""
    async with hub.transaction(readonly=True) as uow:
        rows = (await uow.db.execute(select(Directive.status, func.count()).where(
            Directive.status.in_(BACKLOG_STATUSES)).group_by(Directive.status))).all()  # type: ignore[attr-defined]
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in BACKLOG_STATUSES}


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format: this process's counters plus the cluster's directive backlog. They tell who calls
    what and what fails, so an admin token is asked unless `metrics_public` says a private network guards them."""
    if not request.app.state.settings.metrics_public:
        refusal = await admin_refusal(request)
        if refusal is not None:
            return refusal
    hub = getattr(request.state, "hub", None)
    if hub is not None:
        try:
            for status, count in (await directive_backlog(hub)).items():
                DIRECTIVE_BACKLOG.labels(status).set(count)
        except Exception:  # a database hiccup must not hide the process's own metrics
            log.warning("could not read the directive backlog for /metrics", exc_info=True)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
