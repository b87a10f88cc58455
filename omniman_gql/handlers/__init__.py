"""Directive handlers, one module per topic family; `register_standard_handlers` installs the shipped ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..registry import Registry
    from ..settings import Settings


def register_standard_handlers(registry: Registry, settings: Settings) -> None:
    """Register the spec's standard handlers (stock, payment, notification)."""
    return None
