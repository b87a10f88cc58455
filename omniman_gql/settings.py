"""Settings read from `OMNIMAN_*` environment variables; built once and cached."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def async_database_url(url: str) -> str:
    """Accept the plain URLs users already have and pick the async driver ourselves."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {base!r}: use postgresql:// or sqlite:///")


class Settings(BaseSettings):
    """Every knob of the hub. Each field is the env var `OMNIMAN_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="OMNIMAN_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./omniman.db", description="Database URL; `postgresql://…` or `sqlite:///path.db`."
    )
    accelerate: bool = Field(
        True, description="Use the accelerators: modules that reach past a library's public API for speed (each "
        "isolated in one module, pinned to the library's minor series in pyproject.toml and tested both ways). "
        "`false` puts every one of them back on the library's own path (see docs/deploy.md).")
    database_pool_size: int = Field(10, ge=1, le=200, description="Connections kept open per process (PostgreSQL).")
    database_max_active: int = Field(
        4, ge=1, le=200, description="Units of work that may write (use cases' write transactions and autocommit "
        "blocks) running statements at once per process (PostgreSQL); the others wait their turn, reads never do. "
        "PostgreSQL spends more CPU per statement when far more backends are busy than it has cores: 4 was best for "
        "2 web processes on 2 shared cores; scale it with PostgreSQL's cores.")
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0, description="How long a SQLite writer waits for the lock.")
    redis_url: str | None = Field(None, description="Redis URL; when set, directives and live events go through Redis.")
    broker_namespace: str = Field("omniman", description="Prefix of every Redis key used by the broker and pub/sub.")
    default_currency: str = Field("BRL", min_length=3, max_length=3, description="Currency of new channels.")
    hold_ttl_seconds: int = Field(15 * 60, ge=1, description="How long a stock hold lasts.")
    directive_max_attempts: int = Field(5, ge=1, le=100, description="Attempts before a directive is `failed`.")
    directive_backoff_ms: int = Field(1_000, ge=0, description="First retry delay; doubles each attempt.")
    directive_backoff_max_ms: int = Field(5 * 60_000, ge=0, description="Longest retry delay.")
    directive_running_timeout_s: int = Field(
        300, ge=1, description="Longest run of a directive: its handler is cut off after this, and its lease is no "
        "longer renewed, so it is taken over at most `directive_lease_s` later. Also what a `running` row claimed "
        "before leases existed (no lease) is judged by.")
    # A dead worker's directive runs again within lease + heartbeat (≈ 40 s by default: the spec asks for a minute).
    directive_lease_s: float = Field(
        30.0, gt=0, description="How long a worker's claim of a directive holds without being renewed: past it (the "
        "worker died or hangs), any worker takes the directive over and runs it again; the old holder can no longer "
        "record its outcome.")
    directive_heartbeat_s: float = Field(
        10.0, gt=0, description="How often each worker renews the leases of the directives it is running, and takes "
        "over directives whose lease expired (at most half of `directive_lease_s`).")
    sweeper_interval_s: float = Field(
        5.0, gt=0, description="How often the sweeper looks for due and stuck directives.")
    # An idle Redis consumer sleeps up to this long between polls, so it is added to directive latency at low traffic;
    # a short one costs only cheap polls of an idle worker (bench/directives.py measures both).
    worker_timeout_ms: int = Field(10, ge=1, description="How long an idle dramatiq worker waits for a message.")
    directive_redispatch_after_s: float = Field(
        10.0, ge=0, description="The sweeper re-sends a due `queued` directive left untouched this long.")
    extra_handler_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated modules whose `register_handlers(registry, settings)` adds "
        "directive handlers (plugins).")
    customer_backend: str = Field(
        "database", description="The customer backend: `database` (the shipped customers table: lookups, search, "
        "price lists, order figures), `none` (no customers: `setCustomer` answers `customer_not_found`), or "
        "`package.module:Class` (a class whose instances implement omniman_gql.protocols.CustomerBackend).")
    webhook_url: str | None = Field(None, description="When set, `notification.send` can POST to this URL (webhook).")
    webhook_secret: str | None = Field(None, description="Key of the webhook body's HMAC-SHA256 signature.")
    webhook_timeout_s: float = Field(5.0, gt=0, le=120, description="How long a webhook call may take.")
    graphiql: bool = Field(True, description="Serve GraphiQL at GET /graphql.")
    introspection: bool = Field(True, description="Allow schema introspection (turn off in production).")
    log_json: bool = Field(False, description="Log one JSON line per request and per directive; the console "
                                              "notifier prints its notifications as JSON lines too.")
    metrics: bool = Field(True, description="Serve Prometheus metrics at GET /metrics (an admin token is asked; see "
                          "`metrics_public`).")
    metrics_public: bool = Field(False, description="Serve /metrics without a token, for a scraper that reaches the "
                                 "web processes on a private network only (never expose it on the public listener: "
                                 "it tells who calls what and what fails).")
    # bounds on input
    max_ops_per_modify: int = Field(100, ge=1, description="Ops accepted in one modifySession.")
    max_lines_per_session: int = Field(500, ge=1, description="Lines a session may hold.")
    max_string_length: int = Field(200, ge=8, description="Longest sku, key, name or reference.")
    max_json_bytes: int = Field(64 * 1024, ge=256, description="Largest `data`/`meta`/`payload` document, as JSON.")
    max_json_depth: int = Field(8, ge=2, description="Deepest nesting of a `data`/`meta`/`payload` document.")
    max_page_size: int = Field(100, ge=1, le=1000, description="Largest `first` of a connection.")
    max_query_depth: int = Field(12, ge=2, description="Deepest GraphQL selection.")
    max_aliases: int = Field(30, ge=1, description="Most aliases in one GraphQL document.")
    max_query_tokens: int = Field(5_000, ge=100, description="Most tokens in one GraphQL document.")
    max_query_cost: int = Field(
        5_000, ge=1, description="Most objects one GraphQL operation could return: each field that returns objects "
        "counts the product of the page sizes above it and its own (`first`, or the page default; a list without a "
        "page counts 10), fragments expanded and aliases each. Over it the operation is refused, nothing run.")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="Largest HTTP request body.")
    unavailable_retry_after_s: int = Field(
        2, ge=1, le=3600, description="Seconds sent in `Retry-After` with a 503 answered because the database or "
        "the broker is unavailable (or busy past its timeouts): how long clients should wait before retrying.")
    # frontends: browsers on other origins, persisted queries
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins (comma-separated, e.g. `https://shop.example,http://localhost:5173`"
        ", or `*`) whose browser pages may call the hub: CORS preflights are answered for them and their websockets "
        "accepted. Empty: other origins are refused (a page on the hub's own origin always works).")
    persisted_queries: bool = Field(
        True, description="Automatic persisted queries (Apollo's protocol): a request may name a stored document by "
        "its SHA-256 (`extensions.persistedQuery`), and one with the document and its hash stores it.")
    persisted_queries_max: int = Field(
        10_000, ge=0, le=1_000_000, description="Documents the persisted-query store keeps (shared by every process, "
        "in the database); past it, a new document still runs but is not stored.")
    trusted_documents_only: bool = Field(
        False, description="Run only the documents registered with `omniman documents add` (by hash, or sent whole): "
        "any other is refused with `DOCUMENT_NOT_TRUSTED` and persisted-query registration is off.")
    # live stream (websocket subscriptions)
    legacy_graphql_ws: bool = Field(False, description="Also accept the legacy `graphql-ws` websocket sub-protocol.")
    connection_init_timeout_s: float = Field(10.0, gt=0, le=300,
                                             description="How long a websocket may take to send `connection_init`.")
    max_subscriptions_per_connection: int = Field(20, ge=1, le=1000,
                                                  description="Operations one websocket may run at the same time.")
    max_websockets_per_token: int = Field(
        50, ge=1, le=100_000, description="Websockets one API token may hold open at the same time, counted per web "
        "process: one more is closed with 4429 after `connection_init`, before it is acknowledged.")
    token_recheck_s: float = Field(5.0, gt=0, le=300, description="Open websockets close at once when their token "
                                   "is revoked (pub/sub); at the latest after this many seconds (a revocation the "
                                   "pub/sub did not carry, e.g. `omniman token revoke` without Redis).")
    token_cache_s: float = Field(2.0, ge=0, le=60, description="How long a web process may answer from memory "
                                 "that a token is live (revocations announced on the pub/sub take effect at once; "
                                 "this bounds one the pub/sub lost or never carried). 0: look it up on every "
                                 "request.")
    subscription_buffer: int = Field(1000, ge=10, le=100_000, description="Events a subscriber may fall behind "
                                     "before it is closed (it resumes with its last cursor).")
    subscription_poll_s: float = Field(5.0, gt=0, le=300, description="How often live feeds re-read the database, "
                                       "in case a pub/sub message was lost.")

    @model_validator(mode="after")
    def _check_heartbeat(self) -> Settings:
        # Half the lease at most: one late heartbeat (a busy machine) must not let a live worker's claim lapse.
        if self.directive_heartbeat_s * 2 > self.directive_lease_s:
            raise ValueError("directive_heartbeat_s must be at most half of directive_lease_s")
        return self

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        async_database_url(value)
        return value

    @field_validator("customer_backend")
    @classmethod
    def _check_customer_backend(cls, value: str) -> str:
        if value not in ("database", "none") and ":" not in value:
            raise ValueError("customer_backend must be `database`, `none` or `package.module:Class`")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("extra_handler_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
