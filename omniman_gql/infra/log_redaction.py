"""Secrets kept out of the access log: the kitchen display may be opened as `/kds?token=…`."""

from __future__ import annotations

import logging
import re

# A query parameter that carries an API token; its value is replaced, the rest of the request line is kept.
_TOKEN_PARAMETER = re.compile(r"([?&](?:token|access_token)=)[^&#\s]*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the value of every `token=` / `access_token=` query parameter replaced by `[redacted]`."""
    return _TOKEN_PARAMETER.sub(lambda match: match.group(1) + REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a log record's string arguments (uvicorn's access lines pass the path with its query string as
    one) so that no token in an address reaches the log; the record itself is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(arg, str) and "token=" in arg.lower() for arg in args):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in args)
        return True


def redact_access_log(logger_name: str = "uvicorn.access") -> None:
    """Install the filter on uvicorn's access logger once per process (uvicorn configures logging in each worker
    process before it creates the app, so the app's factory is the place that covers every way of serving it)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
        logger.addFilter(RedactTokens())
