"""The six ops, parsed and applied purely: field paths, both input shapes, all-or-nothing, every rule of §5."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from omniman_gql.domain.draft import ChannelRules, Draft
from omniman_gql.domain.limits import Limits
from omniman_gql.domain.ops import apply_ops, parse_ops
from omniman_gql.errors import ErrorCode, OmnimanError, ValidationFailed

LIMITS = Limits()


def ids_from(*values: str) -> Callable[[], str]:
    it = iter(values)
    return lambda: next(it)


def parse(ops: list[Any], *, external: bool = False) -> Any:
    return parse_ops(ops, external_pricing=external, limits=LIMITS)


def failure(ops: list[Any], *, external: bool = False) -> OmnimanError:
    with pytest.raises(OmnimanError) as info:
        parse(ops, external=external)
    return info.value


def draft_with(*lines: tuple[str, str, str]) -> Draft:
    items = [{"line_id": lid, "sku": sku, "name": sku, "qty": qty, "unit_price_q": 100, "price_source": "client",
              "line_total_q": 0, "meta": {}} for lid, sku, qty in lines]
    return Draft.of(ChannelRules(code="pos"), items=items, data={})


def test_both_input_shapes_parse_to_the_same_op() -> None:
    snake = parse([{"op": "set_qty", "line_id": "L-1", "qty": "2"}])
    wire = parse([{"setQty": {"lineId": "L-1", "qty": "2"}}])
    assert snake == wire


@pytest.mark.parametrize("op, field, code", [
    ({"op": "add_line", "sku": "", "qty": "1"}, ("ops", 1, "add_line", "sku"), ErrorCode.MISSING_SKU),
    ({"op": "add_line", "sku": "A", "qty": "0"}, ("ops", 1, "add_line", "qty"), ErrorCode.INVALID_QTY),
    ({"op": "add_line", "sku": "A", "qty": "1.0001"}, ("ops", 1, "add_line", "qty"), ErrorCode.INVALID_QTY),
    ({"op": "add_line", "sku": "A", "qty": "1", "unit_price_q": -5}, ("ops", 1, "add_line", "unit_price_q"),
     ErrorCode.INVALID_PRICE),
    ({"op": "set_qty", "line_id": "L-1", "qty": "x"}, ("ops", 1, "set_qty", "qty"), ErrorCode.INVALID_QTY),
    ({"op": "set_data", "path": "checks.stock", "value": 1}, ("ops", 1, "set_data", "path"), ErrorCode.INVALID_PATH),
    ({"op": "merge_lines", "from_line_id": "L-1", "into_line_id": "L-1"}, ("ops", 1, "merge_lines", "into_line_id"),
     ErrorCode.INVALID_MERGE),
    ({"op": "explode"}, ("ops", 1), ErrorCode.UNSUPPORTED_OP),
    ({"addLine": {"sku": "A", "qty": "1"}, "setQty": {}}, ("ops", 1), ErrorCode.UNSUPPORTED_OP),
])
def test_op_errors_carry_the_input_path(op: dict[str, Any], field: tuple[Any, ...], code: ErrorCode) -> None:
    ok = {"op": "add_line", "sku": "OK", "qty": "1", "unit_price_q": 1}
    exc = failure([ok, op])
    assert (exc.code, exc.field) == (code, field)


def test_external_pricing_needs_a_price_on_add_line_and_replace_sku() -> None:
    exc = failure([{"op": "add_line", "sku": "A", "qty": "1"},
                   {"op": "replace_sku", "line_id": "L-1", "sku": "B"}], external=True)
    assert isinstance(exc, ValidationFailed)
    assert [(e.code, e.field) for e in exc.errors()] == [
        (ErrorCode.MISSING_UNIT_PRICE_Q, ("ops", 0, "add_line", "unit_price_q")),
        (ErrorCode.MISSING_UNIT_PRICE_Q, ("ops", 1, "replace_sku", "unit_price_q")),
    ]


def test_every_bad_field_of_every_op_is_reported_together() -> None:
    exc = failure([{"addLine": {"sku": "", "qty": "-1"}}, {"op": "set_qty", "line_id": "", "qty": "1"}])
    assert [(e.code.value, e.field) for e in exc.errors()] == [
        ("missing_sku", ("ops", 0, "add_line", "sku")),
        ("invalid_qty", ("ops", 0, "add_line", "qty")),
        ("unknown_line_id", ("ops", 1, "set_qty", "line_id")),
    ]


@pytest.mark.parametrize("path, ok", [
    ("customer.name", True), ("delivery.address.street.number.extra", True), ("tab", True),
    ("a.b", False), ("items.0", False), ("rev", False), ("pricing_trace", False), ("customer.__class__", False),
    ("customer..name", False), ("customer.a.b.c.d.e", False), ("", False), ("issues", False), ("state", False),
])
def test_set_data_paths(path: str, ok: bool) -> None:
    op = [{"op": "set_data", "path": path, "value": "x"}]
    if ok:
        assert parse(op)[0].fields["path"] == path.split(".")
    else:
        assert failure(op).code == ErrorCode.INVALID_PATH


def test_too_many_ops_is_a_clear_error() -> None:
    exc = failure([{"op": "remove_line", "line_id": "L"}] * (LIMITS.max_ops_per_modify + 1))
    assert exc.code == ErrorCode.INVALID_INPUT and exc.context["max_ops"] == LIMITS.max_ops_per_modify


def test_apply_add_set_replace_remove_and_merge() -> None:
    draft = draft_with()
    apply_ops(draft, parse([
        {"op": "add_line", "sku": "A", "qty": "1.5", "unit_price_q": 100},
        {"op": "add_line", "sku": "A", "qty": "2", "unit_price_q": 100},
        {"op": "add_line", "sku": "B", "qty": "1", "unit_price_q": 50, "meta": {"k": 1}},
        {"op": "merge_lines", "from_line_id": "L-2", "into_line_id": "L-1"},
        {"op": "set_qty", "line_id": "L-1", "qty": "4.25"},
        {"op": "replace_sku", "line_id": "L-3", "sku": "C", "unit_price_q": 70},
        {"op": "set_data", "path": "customer.name", "value": "Ana"},
    ]), new_line_id=ids_from("L-1", "L-2", "L-3"))
    assert [(i["line_id"], i["sku"], i["qty"], i["unit_price_q"], i["meta"]) for i in draft.items] == [
        ("L-1", "A", "4.25", 100, {}), ("L-3", "C", "1", 70, {"k": 1})]
    assert draft.data == {"customer": {"name": "Ana"}}
    assert draft.origins == {"L-1": (4, "set_qty"), "L-2": (1, "add_line"), "L-3": (5, "replace_sku")}


def test_apply_unknown_line_and_sku_mismatch_name_the_op() -> None:
    draft = draft_with(("L-1", "A", "1"), ("L-2", "B", "1"))
    with pytest.raises(OmnimanError) as info:
        apply_ops(draft, parse([{"op": "remove_line", "line_id": "L-9"}]), new_line_id=ids_from())
    assert (info.value.code, info.value.field) == (ErrorCode.UNKNOWN_LINE_ID, ("ops", 0, "remove_line", "line_id"))
    with pytest.raises(OmnimanError) as info:
        apply_ops(draft, parse([{"op": "merge_lines", "from_line_id": "L-1", "into_line_id": "L-2"}]),
                  new_line_id=ids_from())
    assert info.value.code == ErrorCode.SKU_MISMATCH
    assert info.value.context == {"from_sku": "A", "into_sku": "B"}


def test_set_data_null_clears_the_key() -> None:
    draft = draft_with()
    draft.data = {"notes": {"kitchen": "no onions", "bar": "ice"}}
    apply_ops(draft, parse([{"op": "set_data", "path": "notes.kitchen", "value": None}]), new_line_id=ids_from())
    assert draft.data == {"notes": {"bar": "ice"}}


def test_new_line_ids_never_collide_with_existing_ones() -> None:
    draft = draft_with(("L-1", "A", "1"))
    apply_ops(draft, parse([{"op": "add_line", "sku": "B", "qty": "1", "unit_price_q": 1}]),
              new_line_id=ids_from("L-1", "L-1", "L-7"))
    assert [i["line_id"] for i in draft.items] == ["L-1", "L-7"]


def test_merging_lines_whose_meta_differ_is_refused_naming_the_keys() -> None:
    draft = draft_with()
    apply_ops(draft, parse([
        {"op": "add_line", "sku": "LATTE", "qty": "1", "unit_price_q": 600, "meta": {"milk": "oat", "size": "L"}},
        {"op": "add_line", "sku": "LATTE", "qty": "1", "unit_price_q": 600, "meta": {"size": "L"}},
        {"op": "add_line", "sku": "LATTE", "qty": "2", "unit_price_q": 600, "meta": {"size": "L"}},
    ]), new_line_id=ids_from("L-1", "L-2", "L-3"))

    with pytest.raises(OmnimanError) as info:
        apply_ops(draft, parse([{"op": "merge_lines", "from_line_id": "L-1", "into_line_id": "L-2"}]),
                  new_line_id=ids_from())
    apply_ops(draft, parse([{"op": "merge_lines", "from_line_id": "L-3", "into_line_id": "L-2"}]),
              new_line_id=ids_from())  # same meta: merged

    assert (info.value.code, info.value.field) == (ErrorCode.INVALID_MERGE, ("ops", 0, "merge_lines", "from_line_id"))
    assert info.value.context == {"keys": ["milk"], "from_meta": {"milk": "oat", "size": "L"},
                                  "into_meta": {"size": "L"}}
    assert [(i["line_id"], i["qty"], i["meta"]) for i in draft.items] == [
        ("L-1", "1", {"milk": "oat", "size": "L"}), ("L-2", "3", {"size": "L"})]
