"""RefTarget: what resolveRef answers, the ref with the active session or order holding it."""

import strawberry

from .order import Order
from .ref import Ref
from .session import Session


@strawberry.type(description="The holder of a ref: its session while open, its order once the ref moved there.")
class RefTarget:
    ref: Ref = strawberry.field(description="The ref.")
    session: Session | None = strawberry.field(description="The session holding it (null when an order does).")
    order: Order | None = strawberry.field(description="The order holding it (null when a session does).")
