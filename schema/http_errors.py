"""GraphQL over HTTP: the media type a client asked for, the codes of request errors and their JSON 4xx bodies."""

from collections.abc import Iterable

from graphql import GraphQLError, GraphQLSyntaxError
from starlette.responses import JSONResponse, Response

from omniman_gql.errors import RequestErrorCode

from .text_input import NUL_MESSAGE

GRAPHQL_RESPONSE = "application/graphql-response+json"
# the code of each status a request error may have, when the refusal does not name its own
STATUS_CODES = {400: RequestErrorCode.BAD_REQUEST, 404: RequestErrorCode.NOT_FOUND,
                405: RequestErrorCode.METHOD_NOT_ALLOWED, 413: RequestErrorCode.PAYLOAD_TOO_LARGE,
                415: RequestErrorCode.UNSUPPORTED_MEDIA_TYPE}
# Strawberry's messages for a body it cannot take: the media type's fault (415), not the body's (400)
UNSUPPORTED_MEDIA = {"Unsupported content type"}
# refusals whose fault is a value the client sent, not the request's form
MESSAGE_CODES = {NUL_MESSAGE: "BAD_USER_INPUT"}
# codes of errors that mean nothing was executed: with application/graphql-response+json, HTTP 400
REQUEST_ERRORS = frozenset({RequestErrorCode.GRAPHQL_PARSE_FAILED, RequestErrorCode.GRAPHQL_VALIDATION_FAILED,
                            RequestErrorCode.PERSISTED_QUERY_NOT_FOUND, RequestErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
                            RequestErrorCode.PERSISTED_QUERY_HASH_MISMATCH, RequestErrorCode.DOCUMENT_NOT_TRUSTED,
                            RequestErrorCode.BAD_REQUEST})


def wants_graphql_response(accept: str | None) -> bool:
    """Whether `Accept` names `application/graphql-response+json` (with a non-zero q): then that is the answer's
    media type; otherwise `application/json`, as before the GraphQL-over-HTTP specification."""
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media.lower() == GRAPHQL_RESPONSE:
            return not any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
    return False


def media_type(graphql_response: bool) -> str:
    return f"{GRAPHQL_RESPONSE}; charset=utf-8" if graphql_response else "application/json"


def error_response(status: int, message: str, *, graphql_response: bool = False,
                   code: str | None = None) -> Response:
    """A request refused before any GraphQL ran: `{"errors": [{"message", "extensions": {"code"}}]}`."""
    if status == 400 and message in UNSUPPORTED_MEDIA:
        status, message = 415, "Send the operation as application/json (POST) or in the query string (GET)."
    body = {"errors": [{"message": message, "extensions": {
        "code": code or MESSAGE_CODES.get(message) or STATUS_CODES.get(status, "BAD_REQUEST")}}]}
    headers = {"cache-control": "no-store", **({"allow": "GET, POST"} if status == 405 else {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=media_type(graphql_response))


def tag_request_errors(errors: Iterable[GraphQLError]) -> None:
    """Give parse and validation errors their `extensions.code` (they come from graphql-core without one): a
    syntax error (or too many tokens) GRAPHQL_PARSE_FAILED, any other error outside every field
    GRAPHQL_VALIDATION_FAILED. Errors that have a code already keep it."""
    for error in errors:
        if error.path is not None or (error.extensions or {}).get("code"):
            continue
        code = (RequestErrorCode.GRAPHQL_PARSE_FAILED if isinstance(error, GraphQLSyntaxError)
                else RequestErrorCode.GRAPHQL_VALIDATION_FAILED)
        error.extensions = {**(error.extensions or {}), "code": code.value}


def is_request_error(response_data: object) -> bool:
    """Whether a response's errors say nothing ran (its document did not parse, validate or resolve to one)."""
    if not isinstance(response_data, dict) or response_data.get("data") is not None:
        return False
    errors = response_data.get("errors") or []
    return bool(errors) and all(isinstance(e, dict) and (e.get("extensions") or {}).get("code") in REQUEST_ERRORS
                                for e in errors)
