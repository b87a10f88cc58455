"""Every table of the hub; importing this module registers them all on `metadata`."""

from sqlmodel import SQLModel

from ._base import table_of, utcnow
from .auth import ApiToken
from .catalog import Price, StockHold, StockLevel
from .channel import Channel
from .customer import Customer, CustomerOrder
from .directive import Directive
from .document import PersistedDocument
from .idempotency import IdempotencyKey
from .order import Fulfillment, FulfillmentItem, Order, OrderEvent, OrderItem
from .payment import MockPaymentIntent, OrderPayment
from .session import Session

metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "Channel",
    "Customer",
    "CustomerOrder",
    "Directive",
    "Fulfillment",
    "FulfillmentItem",
    "IdempotencyKey",
    "MockPaymentIntent",
    "Order",
    "OrderEvent",
    "OrderItem",
    "OrderPayment",
    "PersistedDocument",
    "Price",
    "Session",
    "StockHold",
    "StockLevel",
    "metadata",
    "table_of",
    "utcnow",
]
