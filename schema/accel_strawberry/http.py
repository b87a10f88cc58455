"""The plain JSON POST (every mutation) in fewer steps than Strawberry's generic request pipeline.

An accelerator: it replaces Strawberry's `run` and `parse_http_body` for a POST whose body is plainly JSON, and reads
the view's private stream-transport map and error handler, so it is tied to the Strawberry series pinned in
pyproject.toml; `schema.asgi` serves `AcceleratedGraphQL` only when `Settings.accelerate`, else `OmnimanGraphQL` on
Strawberry's own path. The requests it answers, and their errors, are the same.
"""

import json
from functools import cached_property
from typing import Any

from cross_web import HTTPException
from strawberry.http import GraphQLRequestData, process_result
from strawberry.types.unset import UNSET

from ..view import NO_BATCHING, NulFreeRequestData, OmnimanGraphQL


class AcceleratedGraphQL(OmnimanGraphQL):
    """The hub's GraphQL view with the plain-POST path."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """A POST (every mutation): Strawberry's steps for one JSON operation, minus those that cannot apply to it
        (the websocket, IDE and method checks; streamed, incremental and batched results: no HTTP stream transport
        is enabled, incremental execution is off and a batch is refused while parsing) and minus the awaits of its
        no-op hooks (`get_root_value`, `process_result`). Anything else, and a caller passing its own context or
        root value, takes Strawberry's `run`."""
        if (request.scope["type"] != "http" or request.scope["method"] != "POST" or context is not UNSET
                or root_value is not UNSET or not self._single_results):
            return await super().run(request, context, root_value)
        request_adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        try:
            request_data = await self.parse_http_body(request_adapter)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        except KeyError as exc:
            raise HTTPException(400, "File(s) missing in form data") from exc
        result = await self.execute_single(request, request_adapter, sub_response, context, None, request_data)
        response_data = process_result(result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    @cached_property
    def _single_results(self) -> bool:
        """Whether every POST yields one plain ExecutionResult: no HTTP stream transport, no incremental delivery."""
        return not self._stream_transport_map and not self.schema.config.enable_experimental_incremental_execution

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A POST whose Content-Type is plainly JSON (`application/json`, maybe with `; charset=…`) is read here
        with Strawberry's checks and messages, without its Content-Type parsing through the `email` package and
        its scan of the headers for a streaming `Accept` (no HTTP stream transport is enabled). Anything else, or
        a header whose type Python's email parser might read differently (quotes, `=`), goes to Strawberry."""
        if request.method != "POST" or not self._single_results or not _plainly_json(request.content_type):
            return await super().parse_http_body(request)
        body = await request.get_body()
        data = self.parse_json(body)
        if isinstance(data, list):  # parse_json refuses batches already; kept should it change
            raise HTTPException(400, NO_BATCHING)
        query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
        if not isinstance(query, str | None):
            raise HTTPException(400, "The GraphQL operation's `query` must be a string or null, if provided.")
        if not isinstance(variables, dict | None):
            raise HTTPException(400, "The GraphQL operation's `variables` must be an object or null, if provided.")
        if not isinstance(extensions, dict | None):
            raise HTTPException(400, "The GraphQL operation's `extensions` must be an object or null, if provided.")
        checked = NulFreeRequestData if _nul_free(body) else GraphQLRequestData
        return checked(query=query, variables=variables, operation_name=data.get("operationName"),
                       extensions=extensions, protocol="http")


def _nul_free(body: object) -> bool:
    """Whether no string decoded from this JSON body can hold a NUL: it has no zero byte (so it is read as UTF-8,
    not UTF-16 or UTF-32, whose text always has some) and no `\\u0000` escape, the only way to write a NUL in a JSON
    string (a raw control character is a syntax error). An escaped backslash before `u0000` only makes this say no."""
    return isinstance(body, bytes) and b"\x00" not in body and b"\\u0000" not in body


def _plainly_json(content_type: str | None) -> bool:
    """Whether Strawberry would take this Content-Type as JSON, decided without the `email` package: its media type
    is the text before the first `;` (stripped) when that text holds no quote or `=` (else: not decided here)."""
    media_type = (content_type or "").partition(";")[0]
    return "application/json" in media_type and '"' not in media_type and "=" not in media_type
