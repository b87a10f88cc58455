"""Provisioning: channels from a YAML/JSON document (validated whole, written in one transaction) and the demo shop."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import select
from sqlmodel import col

from ..domain.limits import check_json
from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..models import Channel
from ..money import qty_str
from ..runtime import Hub
from . import catalog, customers
from .channels import check_channel, save_channel

MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_CHANNELS = 200
CHANNEL_KEYS = ("code", "name", "pricing_policy", "edit_policy", "currency", "display_order", "is_active", "config")
# The API's camelCase spelling is accepted too, so a document can be pasted from a GraphQL variables file.
CAMEL = {"pricingPolicy": "pricing_policy", "editPolicy": "edit_policy", "displayOrder": "display_order",
         "isActive": "is_active"}
COMPARED = CHANNEL_KEYS[1:]


@dataclass(frozen=True)
class AppliedChannel:
    """What applying one channel did: `created`, `updated` or `unchanged`."""

    code: str
    outcome: str


def parse_channel_document(text: str, *, source: str = "document") -> list[Any]:
    """The channel entries of a YAML or JSON document: `{"channels": [...]}` or a bare list.

    Errors: invalid_input (unreadable document, wrong shape, too large).
    """
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{source} is larger than {MAX_DOCUMENT_BYTES} bytes.")
    try:
        # YAML 1.2 reads JSON too; a .json file gets json's sharper messages.
        document = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{source} is not valid {_kind(source)}: {exc}") from None
    if isinstance(document, dict):
        extra = sorted(set(document) - {"channels"})
        if extra:
            raise OmnimanError(ErrorCode.INVALID_INPUT, f"{source}: unknown top-level key {extra[0]!r}; the document "
                               "is {\"channels\": [...]} or a list of channels.", field=(extra[0],))
        document = document.get("channels")
    if not isinstance(document, list):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{source}: expected a list of channels, or {{\"channels\": "
                           "[...]}}.", field=("channels",))
    if len(document) > MAX_CHANNELS:
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{source}: at most {MAX_CHANNELS} channels per document.",
                           field=("channels",))
    return document


def _kind(source: str) -> str:
    return "JSON" if source.endswith(".json") else "YAML"


def _normalise(hub: Hub, entry: Any, index: int) -> tuple[str, dict[str, Any]]:
    """One entry → (code, checked fields). Every error names the entry's position, its code and the bad key."""
    label = f"channels[{index}]"
    if not isinstance(entry, dict):
        raise OmnimanError(ErrorCode.INVALID_INPUT, f"{label}: each channel must be a mapping of keys such as code, "
                           "name, pricing_policy.", field=("channels", index))
    code = entry.get("code")
    if isinstance(code, str) and code:
        label = f"{label} ({code})"
    given: dict[str, Any] = {}
    for key, value in entry.items():
        name = CAMEL.get(key, key)
        if name not in CHANNEL_KEYS:
            raise OmnimanError(ErrorCode.INVALID_INPUT, f"{label}: unknown key {key!r}; valid keys: "
                               f"{', '.join(CHANNEL_KEYS)}.", field=("channels", index, str(key)),
                               context={"channel": code, "key": key, "valid_keys": list(CHANNEL_KEYS)})
        given[name] = value
    for key in ("pricing_policy", "edit_policy"):
        if isinstance(given.get(key), str):
            given[key] = given[key].lower()  # the API's INTERNAL / LOCKED spelling
    if given.get("config") is not None:
        try:
            check_json(given["config"], hub.registry.limits, field=("config",), what="`config`")
        except OmnimanError as exc:
            raise _placed(exc, label, index, code) from None
    try:
        fields = check_channel(hub, **given) if "code" in given else check_channel(hub, code=None)
    except OmnimanError as exc:
        raise ValidationFailed([_placed(e, label, index, code) for e in exc.errors()]) from None
    return str(code), fields


def _placed(exc: OmnimanError, label: str, index: int, code: Any) -> OmnimanError:
    # The core's messages already name the key (`currency` must be…, config.checks.stock: …, Unknown config key…).
    return OmnimanError(exc.code, f"{label}: {exc.message}", field=("channels", index, *(exc.field or ())),
                        context={**exc.context, "channel": code})


def check_channel_document(hub: Hub, entries: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Validate every entry (all errors at once) and refuse a code given twice.

    Errors: invalid_input, invalid_config (each message names the channel and the key).
    """
    checked: list[tuple[str, dict[str, Any]]] = []
    errors: list[OmnimanError] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        code = entry.get("code") if isinstance(entry, dict) else None
        if isinstance(code, str) and code in seen:
            errors.append(OmnimanError(ErrorCode.INVALID_INPUT, f"channels[{index}] ({code}): code {code!r} is "
                                       f"already given by channels[{seen[code]}].", field=("channels", index, "code")))
            continue
        if isinstance(code, str):
            seen[code] = index
        try:
            checked.append(_normalise(hub, entry, index))
        except OmnimanError as exc:
            errors.extend(exc.errors())
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return checked


def _values(channel: Channel) -> dict[str, Any]:
    return {key: getattr(channel, key) for key in COMPARED}


async def apply_channels(hub: Hub, entries: list[Any], *, actor: str = "system") -> list[AppliedChannel]:
    """Create or update every channel of a document: all of them in one transaction, or none when any is invalid.
    Fields a channel leaves out keep their stored value (new channels get the defaults), so applying a document
    twice changes nothing the second time. Each change is recorded in its channel's history under `actor`.

    Errors: invalid_input, invalid_config (see check_channel_document).
    """
    checked = check_channel_document(hub, entries)
    if not checked:
        return []
    results: list[AppliedChannel] = []
    async with hub.transaction() as uow:
        rows = (await uow.db.execute(select(Channel).where(
            col(Channel.code).in_([code for code, _ in checked])))).scalars()
        before = {row.code: _values(row) for row in rows}
        for code, fields in checked:
            if code in before and all(before[code][k] == v for k, v in fields.items()):
                results.append(AppliedChannel(code, "unchanged"))  # not even `updated_at` moves
                continue
            channel, created = await save_channel(uow, hub, code=code, fields=fields, actor=actor)
            outcome = "created" if created else "unchanged" if _values(channel) == before.get(code) else "updated"
            results.append(AppliedChannel(code, outcome))
    return results


# ---------------------------------------------------------------------------------------------------------------------
# the demo coffee shop

DEMO_CHANNELS: list[dict[str, Any]] = [
    {"code": "pos", "name": "Counter (POS)", "pricing_policy": "internal", "edit_policy": "open", "display_order": 1,
     "config": {"terminology": {"session": "tab"}, "icon": "cash-register"}},
    {"code": "ecommerce", "name": "Web shop", "pricing_policy": "internal", "edit_policy": "open", "display_order": 2,
     "config": {"required_checks_on_commit": ["stock"],
                "checks": {"stock": {"directive_topic": "stock.hold", "label": "Stock"}},
                "post_commit_directives": ["stock.commit", "payment.capture"],
                "on_status": {"cancelled": ["stock.release", "payment.refund"]},
                "icon": "cart"}},
    {"code": "ifood", "name": "iFood", "pricing_policy": "external", "edit_policy": "locked", "display_order": 3,
     "config": {"icon": "delivery"}},
]
DEMO_PRICES: list[dict[str, Any]] = [
    {"sku": "COFFEE", "unit_price_q": 550, "name": "Coffee"},
    {"sku": "ESPRESSO", "unit_price_q": 450, "name": "Espresso"},
    {"sku": "CAPPUCCINO", "unit_price_q": 750, "name": "Cappuccino"},
    {"sku": "CROISSANT", "unit_price_q": 850, "name": "Croissant"},
    {"sku": "PAO_DE_QUEIJO", "unit_price_q": 600, "name": "Pão de queijo"},
    {"sku": "ORANGE_JUICE", "unit_price_q": 900, "name": "Orange juice"},
    {"sku": "CHEESECAKE", "unit_price_q": 1200, "name": "Cheesecake"},
    # Staff pay less at the counter: the `staff` price list, on `pos` only (§16); elsewhere they pay what anyone does.
    {"sku": "COFFEE", "unit_price_q": 300, "channel_code": "pos", "price_list": "staff"},
    {"sku": "ESPRESSO", "unit_price_q": 250, "channel_code": "pos", "price_list": "staff"},
    {"sku": "CROISSANT", "unit_price_q": 500, "channel_code": "pos", "price_list": "staff"},
]
# Fictional people: Ana works at the counter (staff prices at the POS), Bruno is a regular.
DEMO_CUSTOMERS: list[dict[str, Any]] = [
    {"name": "Ana Souza", "phone": "(11) 98765-4321", "email": "ana@example.com", "price_list": "staff",
     "tags": ["staff"]},
    {"name": "Bruno Lima", "phone": "(11) 91234-5678", "tags": ["regular"]},
]
# Cheesecake is nearly sold out, so the web shop's stock check has something to say.
DEMO_STOCK: list[dict[str, Any]] = [
    {"sku": "COFFEE", "qty": "500"}, {"sku": "ESPRESSO", "qty": "500"}, {"sku": "CAPPUCCINO", "qty": "200"},
    {"sku": "CROISSANT", "qty": "40"}, {"sku": "PAO_DE_QUEIJO", "qty": "60"}, {"sku": "ORANGE_JUICE", "qty": "30"},
    {"sku": "CHEESECAKE", "qty": "3"},
]


@dataclass
class DemoReport:
    channels: list[AppliedChannel] = field(default_factory=list)
    prices: list[tuple[str, int]] = field(default_factory=list)
    stock: list[tuple[str, str]] = field(default_factory=list)
    customers: list[tuple[str, str, str | None]] = field(default_factory=list)  # (code, name, price list)


async def seed_demo(hub: Hub) -> DemoReport:
    """The demo coffee shop: channels `pos`, `ecommerce` (stock checks, holds, payment capture, refunds on
    cancel) and `ifood` (locked, externally priced); the price table with a `staff` price list; two customers (one
    on the staff list); on-hand stock (set back to the demo levels on every run). Running it again leaves the same
    shop (the customers are found again by their phones)."""
    report = DemoReport(channels=await apply_channels(hub, DEMO_CHANNELS))
    prices = await catalog.set_prices(hub, DEMO_PRICES)
    report.prices = [(row.sku, row.unit_price_q) for row in prices if not row.channel_code and not row.price_list]
    for person in DEMO_CUSTOMERS:
        customer = await customers.upsert_customer(hub, person)
        report.customers.append((customer.code, customer.name, customer.price_list))
    levels = await catalog.set_stock_levels(hub, DEMO_STOCK)
    report.stock = [(sku, qty_str(on_hand)) for sku, on_hand, _held in levels]
    return report
