"""GraphQL operations and small arrangement helpers shared by the API tests (always with variables)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fixtures.app import Api

ERRORS = "errors { code message field context }"
ORDER_FIELDS = """ref status totalQ itemsCount channel { code } items { lineId sku qty unitPriceQ lineTotalQ }
  events { type actor payload createdAt } allowedTransitions createdAt confirmedAt processingAt readyAt
  dispatchedAt deliveredAt completedAt cancelledAt"""

UPSERT_CHANNEL = f"""mutation($input: ChannelInput!) {{
  upsertChannel(input: $input) {{ channel {{ code isActive editPolicy pricingPolicy config }} created {ERRORS} }} }}"""
OPEN_SESSION = f"""mutation($input: OpenSessionInput!) {{
  openSession(input: $input) {{ session {{ sessionKey rev state }} created {ERRORS} }} }}"""
MODIFY_SESSION = f"""mutation($input: ModifySessionInput!) {{
  modifySession(input: $input) {{ session {{ rev totalQ itemsCount items {{ lineId sku qty unitPriceQ lineTotalQ }} }}
  {ERRORS} }} }}"""
RESOLVE_ISSUE = f"""mutation($input: ResolveIssueInput!) {{
  resolveIssue(input: $input) {{ session {{ rev items {{ lineId qty }} }} {ERRORS} }} }}"""
COMMIT_SESSION = f"""mutation($input: CommitSessionInput!) {{
  commitSession(input: $input) {{ result {{ orderRef orderId status totalQ itemsCount }} order {{ ref status }}
  replayed idempotencyKey {ERRORS} }} }}"""
ABANDON_SESSION = f"""mutation($input: SessionRefInput!) {{
  abandonSession(input: $input) {{ session {{ state }} {ERRORS} }} }}"""
IMPORT_ORDER = f"""mutation($input: ImportOrderInput!) {{
  importOrder(input: $input) {{ order {{ {ORDER_FIELDS} externalRef }} created {ERRORS} }} }}"""
TRANSITION_ORDER = f"""mutation($input: TransitionOrderInput!) {{
  transitionOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} {ERRORS} }} }}"""
ADD_ORDER_EVENT = f"""mutation($input: AddOrderEventInput!) {{
  addOrderEvent(input: $input) {{ order {{ events {{ type actor payload }} }} {ERRORS} }} }}"""
CREATE_FULFILLMENT = f"""mutation($input: CreateFulfillmentInput!) {{
  createFulfillment(input: $input) {{ fulfillment {{ ref status items {{ lineId qty }} }} order {{ ref }}
  {ERRORS} }} }}"""
UPDATE_FULFILLMENT = f"""mutation($input: UpdateFulfillmentInput!) {{
  updateFulfillment(input: $input) {{ fulfillment {{ ref status carrier trackingCode shippedAt deliveredAt }}
  order {{ fulfillments {{ ref status }} events {{ type }} }} {ERRORS} }} }}"""
RETRY_DIRECTIVE = f"""mutation($id: ID!) {{
  retryDirective(id: $id) {{ directive {{ id status attempts }} {ERRORS} }} }}"""
SET_PRICES = f"""mutation($input: [PriceInput!]!) {{ setPrices(input: $input) {{ prices {{ sku unitPriceQ name }}
  {ERRORS} }} }}"""
SET_STOCK_LEVELS = f"""mutation($input: [StockLevelInput!]!) {{
  setStockLevels(input: $input) {{ stockLevels {{ sku onHand held available }} {ERRORS} }} }}"""
ORDER = f"""query($ref: String!) {{ order(ref: $ref) {{ {ORDER_FIELDS}
  directives {{ id topic status orderRef }} fulfillments {{ ref status items {{ lineId qty }} }} }} }}"""
ORDERS = """query($first: Int, $after: String, $channelCode: String, $status: String) {
  orders(first: $first, after: $after, channelCode: $channelCode, status: $status) {
    edges { cursor node { ref createdAt } } pageInfo { hasNextPage endCursor } } }"""


def payload(result: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in result, result
    return result["data"][name]  # type: ignore[no-any-return]


def ok(api: Api, query: str, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation that must succeed; returns its payload."""
    body = payload(api(query, variables), name)
    assert body["errors"] == [], body["errors"]
    return body


def make_channel(api: Api, **fields: Any) -> str:
    code = fields.pop("code", None) or f"pos-{uuid.uuid4().hex[:6]}"
    ok(api, UPSERT_CHANNEL, "upsertChannel", {"input": {"code": code, **fields}})
    return code


def open_with_lines(api: Api, channel: str, lines: list[tuple[str, str, int | None]] | None = None,
                    key: str | None = None) -> tuple[str, list[str]]:
    """Open a session and add `(sku, qty, unitPriceQ)` lines; returns (session key, line ids)."""
    key = key or f"S-{uuid.uuid4().hex[:8]}"
    ok(api, OPEN_SESSION, "openSession", {"input": {"channelCode": channel, "sessionKey": key}})
    lines = [("COFFEE", "2", 550), ("CROISSANT", "1", 850)] if lines is None else lines
    if not lines:
        return key, []
    ops = [{"addLine": {"sku": sku, "qty": qty, **({"unitPriceQ": p} if p is not None else {})}}
           for sku, qty, p in lines]
    body = ok(api, MODIFY_SESSION, "modifySession", {"input": {"channelCode": channel, "sessionKey": key, "ops": ops}})
    return key, [item["lineId"] for item in body["session"]["items"]]


def commit(api: Api, channel: str, key: str, idempotency_key: str | None = None) -> dict[str, Any]:
    return ok(api, COMMIT_SESSION, "commitSession", {"input": {
        "channelCode": channel, "sessionKey": key, "idempotencyKey": idempotency_key or uuid.uuid4().hex}})


def import_order(api: Api, channel: str, external_ref: str | None = None,
                 lines: list[tuple[str, str, int]] | None = None) -> dict[str, Any]:
    items = [{"sku": sku, "qty": qty, "unitPriceQ": price}
             for sku, qty, price in (lines or [("COFFEE", "2", 550), ("CROISSANT", "1", 850)])]
    return ok(api, IMPORT_ORDER, "importOrder", {"input": {
        "channelCode": channel, "externalRef": external_ref or uuid.uuid4().hex, "items": items}})["order"]
