"""Leaf type aliases shared by the whole core; imports nothing from the package."""

from typing import Any, NewType, TypeAlias

Json: TypeAlias = Any
JsonObject: TypeAlias = dict[str, Any]
Quantum = NewType("Quantum", int)  # money in the currency's minor unit: 1050 means 10.50
ChannelCode = NewType("ChannelCode", str)
SessionKey = NewType("SessionKey", str)
OrderRef = NewType("OrderRef", str)
FieldPath: TypeAlias = tuple[str | int, ...]
