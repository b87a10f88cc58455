"""The shipped modifiers: fill prices from the pricing backend's quotes, then compute line totals and totals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..money import line_total_q
from .draft import Draft, PriceQuote

ANY = ""  # a price row's channel_code / price_list for "any channel" / "no list"


def resolve_prices(rows: Iterable[tuple[str, str, str, int, str]], channel_code: str,
                   price_list: str | None) -> dict[str, PriceQuote]:
    """Each SKU's price from price rows (sku, channel_code, price_list, unit_price_q, name): the first found of
    (channel, list), (any channel, list), (channel, no list), (no channel, no list) (§16). The name is the first
    non-empty one in that order, so a list's row need not repeat the catalogue's name."""
    rank = {(channel_code, price_list): 0, (ANY, price_list): 1, (channel_code, ANY): 2, (ANY, ANY): 3} \
        if price_list else {(channel_code, ANY): 0, (ANY, ANY): 1}
    best: dict[str, list[Any]] = {}
    for sku, row_channel, row_list, price, name in rows:
        level = rank.get((row_channel, row_list))
        if level is None:
            continue
        found = best.setdefault(sku, [[None] * 4, [None] * 4])
        found[0][level], found[1][level] = (price, row_list or None), name
    quotes: dict[str, PriceQuote] = {}
    for sku, (prices, names) in best.items():
        price, source = next(entry for entry in prices if entry is not None)
        quotes[sku] = PriceQuote(unit_price_q=price, name=next((n for n in names if n), ""), price_list=source)
    return quotes


@dataclass(frozen=True, slots=True)
class PricingModifier:
    """Internal channels: a line without a client price takes the backend's (traced when a customer's price list
    gave it); a client price that differs from the backend's is traced as an override (I5), with the actor who set
    it. A price for a SKU the backend does not know is the only price there is, not an override."""

    code: str = "pricing"
    order: int = 10

    def apply(self, draft: Draft) -> None:
        if draft.channel.external_pricing:
            return  # I4: an externally priced channel is never repriced
        trace = {entry["line_id"]: entry for entry in draft.pricing_trace}
        for line in draft.items:
            quote = draft.prices.get(line["sku"])
            if quote is not None and quote.name and not line.get("name"):
                line["name"] = quote.name  # the catalogue's name, whoever set the price
            if line.get("price_source") == "client":
                if quote is None or quote.unit_price_q == line["unit_price_q"]:
                    # Nothing to override (the backend has no price) or the client restated the backend's price.
                    trace.pop(line["line_id"], None)
                    continue
                old = trace.get(line["line_id"])
                same = old is not None and old.get("given_q") == line["unit_price_q"] and old.get("sku") == line["sku"]
                trace[line["line_id"]] = {  # the actor who set the price is kept; the backend price is today's
                    "line_id": line["line_id"], "sku": line["sku"], "source": "override",
                    "given_q": line["unit_price_q"], "backend_q": quote.unit_price_q,
                    "actor": old.get("actor", draft.actor) if same and old is not None else draft.actor,
                }
                continue
            trace.pop(line["line_id"], None)
            if quote is not None:
                line["unit_price_q"] = quote.unit_price_q
                line["price_source"] = "backend"
                if quote.price_list is not None:  # the customer's list priced it: say so (§16)
                    trace[line["line_id"]] = {"line_id": line["line_id"], "sku": line["sku"], "source": "price_list",
                                              "price_list": quote.price_list, "unit_price_q": quote.unit_price_q}
            elif line.get("price_source") != "backend":
                line["unit_price_q"] = None
        live = {line["line_id"] for line in draft.items}
        draft.pricing_trace = [entry for line_id, entry in trace.items() if line_id in live]


@dataclass(frozen=True, slots=True)
class TotalsModifier:
    """`line_total_q = round_half_up(qty × unit_price_q)`; totals are their sum."""

    code: str = "totals"
    order: int = 100

    def apply(self, draft: Draft) -> None:
        total = 0
        for line in draft.items:
            price = line.get("unit_price_q")
            line["line_total_q"] = line_total_q(Decimal(line["qty"]), price) if price is not None else 0
            total += line["line_total_q"]
            if not line.get("name"):
                line["name"] = line["sku"]
        draft.pricing = {"total_q": total, "items_count": len(draft.items)}
