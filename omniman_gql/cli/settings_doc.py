"""The settings reference (docs/settings.md), generated from the Settings class so it cannot drift from the code."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic.fields import FieldInfo

from ..settings import Settings

HEADER = """# Settings reference

Every setting is an environment variable `OMNIMAN_<NAME>` (a `.env` file is not read: set them in the process
environment, e.g. your Procfile platform's config). Lists are comma-separated. Generated from
`omniman_gql.settings.Settings` by `omniman settings-doc -o docs/settings.md`; a test keeps this file current.

| variable | type | default | bounds | what it does |
|---|---|---|---|---|
"""
BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥", "max_length": "length ≤"}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " (optional)"
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`" if value else "empty"
    return f"`{value}`"


def _bounds(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for name, symbol in BOUNDS.items():
            value = getattr(item, name, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def settings_markdown(settings_class: type[Settings] = Settings) -> str:
    """The Markdown reference: one table row per setting, in the class's order."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    rows = []
    for name, info in settings_class.model_fields.items():
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{prefix}{name.upper()}` | {_type_name(info.annotation)} | {_default(info)} | "
                    f"{_bounds(info)} | {description} |")
    return HEADER + "\n".join(rows) + "\n"
