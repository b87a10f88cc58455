"""The shipped modifiers: fill prices from the pricing backend's quotes, then compute line totals and totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..money import line_total_q
from .draft import Draft


@dataclass(frozen=True, slots=True)
class PricingModifier:
    """Internal channels: a line without a client price takes the backend's; a client price that differs from the
    backend's is traced as an override (I5), with the actor who set it. A price for a SKU the backend does not know
    is the only price there is, not an override."""

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
