"""The session ops: parse them, then apply them to a draft, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..errors import ErrorCode, OmnimanError, ValidationFailed
from ..money import parse_qty, parse_quantum, qty_str
from .customers import check_code
from .draft import Draft
from .limits import Limits, check_json, check_object, check_optional_string, check_string

OP_NAMES = ("add_line", "remove_line", "set_qty", "replace_sku", "set_data", "merge_lines", "set_customer")
# The API's one-of shape ({"addLine": {...}}) is accepted too, so issue actions can be sent back through modify.
WIRE_TO_OP = {"addLine": "add_line", "removeLine": "remove_line", "setQty": "set_qty", "replaceSku": "replace_sku",
              "setData": "set_data", "mergeLines": "merge_lines", "setCustomer": "set_customer"}
WIRE_TO_FIELD = {"lineId": "line_id", "unitPriceQ": "unit_price_q", "fromLineId": "from_line_id",
                 "intoLineId": "into_line_id"}

# Where a session keeps the customer `set_customer` named ({code, price_list}): managed by the hub, never by set_data.
CUSTOMER_KEY = "linked_customer"
DATA_ROOTS = frozenset(
    ["customer", "delivery", "payment", "notes", "meta", "extra", "custom", "tags", "discounts", "fees", "tip",
     "coupon", "source", "operator", "table", "tab"]
)
SYSTEM_ROOTS = frozenset(
    ["checks", "issues", "state", "status", "rev", "session_key", "channel", "items", "pricing", "pricing_trace",
     CUSTOMER_KEY]
)
MAX_PATH_DEPTH = 5


@dataclass(frozen=True, slots=True)
class Op:
    """One parsed op: its name, its fields (snake_case) and its index in the call."""

    name: str
    fields: dict[str, Any]
    index: int

    def field(self, *names: str | int) -> tuple[str | int, ...]:
        return ("ops", self.index, self.name, *names)


def normalize_op(raw: Any, index: int) -> tuple[str, dict[str, Any]]:
    """`{"op": "set_qty", "line_id": …}` or `{"setQty": {"lineId": …}}` → ("set_qty", {"line_id": …})."""
    if not isinstance(raw, dict):
        raise OmnimanError(ErrorCode.UNSUPPORTED_OP, "An op must be an object.", field=("ops", index))
    if "op" in raw:
        name = raw["op"]
        fields = {k: v for k, v in raw.items() if k != "op"}
    elif len(raw) == 1:
        wire_name, body = next(iter(raw.items()))
        name = WIRE_TO_OP.get(wire_name, wire_name)
        if not isinstance(body, dict):
            raise OmnimanError(ErrorCode.UNSUPPORTED_OP, "An op's fields must be an object.", field=("ops", index))
        fields = {WIRE_TO_FIELD.get(k, k): v for k, v in body.items()}
    else:
        raise OmnimanError(
            ErrorCode.UNSUPPORTED_OP, "An op must name exactly one operation.", field=("ops", index)
        )
    if name not in OP_NAMES:
        raise OmnimanError(
            ErrorCode.UNSUPPORTED_OP, f"Unsupported op {name!r}; use one of {', '.join(OP_NAMES)}.",
            field=("ops", index), context={"op": str(name)[:64], "supported": list(OP_NAMES)},
        )
    return name, fields


def parse_ops(raw_ops: Sequence[Any], *, external_pricing: bool, limits: Limits) -> list[Op]:
    """Check every op's own fields, reporting all the errors found, before anything is applied."""
    if not isinstance(raw_ops, Sequence) or isinstance(raw_ops, str | bytes):
        raise OmnimanError(ErrorCode.INVALID_INPUT, "`ops` must be a list.", field=("ops",))
    if len(raw_ops) > limits.max_ops_per_modify:
        raise OmnimanError(
            ErrorCode.INVALID_INPUT, f"At most {limits.max_ops_per_modify} ops per call.", field=("ops",),
            context={"max_ops": limits.max_ops_per_modify, "given": len(raw_ops)},
        )
    errors: list[OmnimanError] = []
    parsed: list[Op] = []
    for index, raw in enumerate(raw_ops):
        try:
            name, fields = normalize_op(raw, index)
            op = Op(name, fields, index)
            parsed.append(Op(name, _PARSERS[name](op, external_pricing, limits), index))
        except ValidationFailed as exc:
            errors.extend(exc.errors())
        except OmnimanError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationFailed(errors)
    return parsed


def _parse_add_line(op: Op, external: bool, limits: Limits) -> dict[str, Any]:
    f = op.fields
    errors: list[OmnimanError] = []
    out: dict[str, Any] = {}
    for key, parse in (
        ("sku", lambda: _sku(f.get("sku"), op, limits)),
        ("qty", lambda: parse_qty(f.get("qty"), field=op.field("qty"))),
        ("unit_price_q", lambda: _price(f.get("unit_price_q"), op, external)),
        ("name", lambda: check_optional_string(f.get("name"), limits, field=op.field("name"), what="A line's name")),
        ("meta", lambda: check_object(f.get("meta"), limits, field=op.field("meta"), what="A line's meta")),
    ):
        try:
            out[key] = parse()
        except OmnimanError as exc:
            errors.append(exc)
    _raise_all(errors)
    return out


def _parse_remove_line(op: Op, _external: bool, limits: Limits) -> dict[str, Any]:
    return {"line_id": _line_ref(op.fields.get("line_id"), op, "line_id", limits)}


def _parse_set_qty(op: Op, _external: bool, limits: Limits) -> dict[str, Any]:
    errors: list[OmnimanError] = []
    out: dict[str, Any] = {}
    try:
        out["line_id"] = _line_ref(op.fields.get("line_id"), op, "line_id", limits)
    except OmnimanError as exc:
        errors.append(exc)
    try:
        out["qty"] = parse_qty(op.fields.get("qty"), field=op.field("qty"))
    except OmnimanError as exc:
        errors.append(exc)
    _raise_all(errors)
    return out


def _parse_replace_sku(op: Op, external: bool, limits: Limits) -> dict[str, Any]:
    f = op.fields
    errors: list[OmnimanError] = []
    out: dict[str, Any] = {}
    for key, parse in (
        ("line_id", lambda: _line_ref(f.get("line_id"), op, "line_id", limits)),
        ("sku", lambda: _sku(f.get("sku"), op, limits)),
        ("unit_price_q", lambda: _price(f.get("unit_price_q"), op, external)),
        ("name", lambda: check_optional_string(f.get("name"), limits, field=op.field("name"), what="A line's name")),
        ("meta", lambda: None if f.get("meta") is None
         else check_object(f.get("meta"), limits, field=op.field("meta"), what="A line's meta")),
    ):
        try:
            out[key] = parse()
        except OmnimanError as exc:
            errors.append(exc)
    _raise_all(errors)
    return out


def _parse_set_data(op: Op, _external: bool, limits: Limits) -> dict[str, Any]:
    path = op.fields.get("path")
    if not isinstance(path, str) or not path:
        raise OmnimanError(ErrorCode.INVALID_PATH, "`path` must be a dot path such as `customer.name`.",
                           field=op.field("path"))
    segments = path.split(".")
    reason = _path_problem(segments)
    if reason:
        raise OmnimanError(ErrorCode.INVALID_PATH, f"Path {path[:100]!r} is refused: {reason}.",
                           field=op.field("path"), context={"allowed_roots": sorted(DATA_ROOTS)})
    value = check_json(op.fields.get("value"), limits, field=op.field("value"), what="The value")
    return {"path": segments, "value": value}


def _parse_merge_lines(op: Op, _external: bool, limits: Limits) -> dict[str, Any]:
    source = _line_ref(op.fields.get("from_line_id"), op, "from_line_id", limits)
    target = _line_ref(op.fields.get("into_line_id"), op, "into_line_id", limits)
    if source == target:
        raise OmnimanError(ErrorCode.INVALID_MERGE, "A line cannot be merged into itself.",
                           field=op.field("into_line_id"))
    return {"from_line_id": source, "into_line_id": target}


def _parse_set_customer(op: Op, _external: bool, _limits: Limits) -> dict[str, Any]:
    code = op.fields.get("code")
    return {"code": None if code is None else check_code(code, op.field("code"))}


_PARSERS: dict[str, Callable[[Op, bool, Limits], dict[str, Any]]] = {
    "add_line": _parse_add_line,
    "remove_line": _parse_remove_line,
    "set_qty": _parse_set_qty,
    "replace_sku": _parse_replace_sku,
    "set_data": _parse_set_data,
    "merge_lines": _parse_merge_lines,
    "set_customer": _parse_set_customer,
}


def _path_problem(segments: list[str]) -> str | None:
    if len(segments) > MAX_PATH_DEPTH:
        return f"deeper than {MAX_PATH_DEPTH} levels"
    if any(not s for s in segments):
        return "empty segment"
    if any(s.startswith("__") for s in segments):
        return "segments may not start with `__`"
    root = segments[0]
    if root in SYSTEM_ROOTS:
        return f"`{root}` is managed by the hub"
    if root not in DATA_ROOTS:
        return f"unknown root `{root}`"
    return None


def _sku(value: Any, op: Op, limits: Limits) -> str:
    return check_string(value, limits, field=op.field("sku"), code=ErrorCode.MISSING_SKU, what="`sku`")


def _line_ref(value: Any, op: Op, key: str, limits: Limits) -> str:
    return check_string(value, limits, field=op.field(key), code=ErrorCode.UNKNOWN_LINE_ID, what=f"`{key}`")


def _price(value: Any, op: Op, external: bool) -> int | None:
    if value is None:
        if external:
            raise OmnimanError(ErrorCode.MISSING_UNIT_PRICE_Q,
                               "This channel is externally priced: every line needs `unit_price_q`.",
                               field=op.field("unit_price_q"))
        return None
    return parse_quantum(value, field=op.field("unit_price_q"))


def _raise_all(errors: list[OmnimanError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ValidationFailed(errors)


# ---------------------------------------------------------------------------------------------------------------------
# applying


def apply_ops(draft: Draft, ops: Sequence[Op], *, new_line_id: Callable[[], str]) -> None:
    """Apply parsed ops in order to `draft` (a working copy: the caller discards it if this raises)."""
    for op in ops:
        _APPLIERS[op.name](draft, op, new_line_id)
        touched = (draft.items[-1]["line_id"] if op.name == "add_line"
                   else op.fields.get("into_line_id") or op.fields.get("line_id"))
        if touched:
            draft.origins[touched] = (op.index, op.name)
            if op.name in ("add_line", "replace_sku"):
                if op.fields["unit_price_q"] is not None:
                    draft.priced[touched] = (op.index, op.name)
                else:
                    draft.priced.pop(touched, None)


def _find(draft: Draft, line_id: str, op: Op, key: str) -> dict[str, Any]:
    for line in draft.items:
        if line["line_id"] == line_id:
            return line
    raise OmnimanError(ErrorCode.UNKNOWN_LINE_ID, f"No line {line_id!r} in this session.", field=op.field(key),
                       context={"line_id": line_id})


def _apply_add_line(draft: Draft, op: Op, new_line_id: Callable[[], str]) -> None:
    f = op.fields
    taken = {line["line_id"] for line in draft.items}
    line_id = new_line_id()
    while line_id in taken:
        line_id = new_line_id()
    draft.items.append({
        "line_id": line_id,
        "sku": f["sku"],
        "name": f["name"] or "",
        "qty": qty_str(f["qty"]),
        "unit_price_q": f["unit_price_q"],
        "price_source": "client" if f["unit_price_q"] is not None else None,
        "line_total_q": 0,
        "meta": f["meta"],
    })


def _apply_remove_line(draft: Draft, op: Op, _new: Callable[[], str]) -> None:
    line = _find(draft, op.fields["line_id"], op, "line_id")
    draft.items.remove(line)


def _apply_set_qty(draft: Draft, op: Op, _new: Callable[[], str]) -> None:
    line = _find(draft, op.fields["line_id"], op, "line_id")
    line["qty"] = qty_str(op.fields["qty"])


def _apply_replace_sku(draft: Draft, op: Op, _new: Callable[[], str]) -> None:
    f = op.fields
    line = _find(draft, f["line_id"], op, "line_id")
    line["sku"] = f["sku"]
    line["name"] = f["name"] or ""
    line["unit_price_q"] = f["unit_price_q"]
    line["price_source"] = "client" if f["unit_price_q"] is not None else None
    if f["meta"] is not None:
        line["meta"] = f["meta"]


def _apply_set_data(draft: Draft, op: Op, _new: Callable[[], str]) -> None:
    *parents, leaf = op.fields["path"]
    node = draft.data
    for segment in parents:
        child = node.get(segment)
        if not isinstance(child, dict):
            child = {}
            node[segment] = child
        node = child
    if op.fields["value"] is None:
        node.pop(leaf, None)  # null clears the key
    else:
        node[leaf] = op.fields["value"]


def _apply_merge_lines(draft: Draft, op: Op, _new: Callable[[], str]) -> None:
    source = _find(draft, op.fields["from_line_id"], op, "from_line_id")
    target = _find(draft, op.fields["into_line_id"], op, "into_line_id")
    if source["sku"] != target["sku"]:
        raise OmnimanError(ErrorCode.SKU_MISMATCH, "Only lines of the same SKU can be merged.",
                           field=op.field("from_line_id"),
                           context={"from_sku": source["sku"], "into_sku": target["sku"]})
    source_meta, target_meta = source.get("meta") or {}, target.get("meta") or {}
    differing = sorted(k for k in {*source_meta, *target_meta} if source_meta.get(k) != target_meta.get(k))
    if differing:  # merging would drop one line's modifiers ("oat milk") silently
        raise OmnimanError(ErrorCode.INVALID_MERGE, f"Lines whose meta differ cannot be merged (keys: "
                           f"{', '.join(differing)}).", field=op.field("from_line_id"),
                           context={"keys": differing, "from_meta": source_meta, "into_meta": target_meta})
    merged = parse_qty(Decimal(target["qty"]) + Decimal(source["qty"]), field=op.field("into_line_id"))
    target["qty"] = qty_str(merged)
    draft.items.remove(source)


def _apply_set_customer(draft: Draft, op: Op, _new: Callable[[], str]) -> None:
    # The service looked the code up through the customer backend before the ops ran (validation is I/O) and put
    # what the session keeps in `customer`; a code it did not resolve is no customer.
    if op.fields["code"] is None:
        draft.data.pop(CUSTOMER_KEY, None)
        return
    customer = op.fields.get("customer")
    if not isinstance(customer, dict):
        raise OmnimanError(ErrorCode.CUSTOMER_NOT_FOUND, f"No customer {op.fields['code']!r}.",
                           field=op.field("code"), context={"code": op.fields["code"]})
    draft.data[CUSTOMER_KEY] = {"code": customer["code"], "price_list": customer.get("price_list")}


def customer_of(data: Any) -> dict[str, Any] | None:
    """The customer a session names ({code, price_list}), or None."""
    found = data.get(CUSTOMER_KEY) if isinstance(data, dict) else None
    return found if isinstance(found, dict) and found.get("code") else None


_APPLIERS: dict[str, Callable[[Draft, Op, Callable[[], str]], None]] = {
    "add_line": _apply_add_line,
    "remove_line": _apply_remove_line,
    "set_qty": _apply_set_qty,
    "replace_sku": _apply_replace_sku,
    "set_data": _apply_set_data,
    "merge_lines": _apply_merge_lines,
    "set_customer": _apply_set_customer,
}
