"""Every error code the specification names exists in ErrorCode, so no spec'd failure can go unrepresented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from omniman_gql.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[1]  # the repository; shared/ sits beside it (here and in CI's clone)
CONCEPTS = ROOT.parent / "shared" / "spec" / "concepts.md"
CODE = r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)*)`"
# Where concepts.md names an error: after an arrow ("unknown → `unknown_line_id`"; but "Session → `committed`" is
# a state change), as "(error `locked`)", as "refused (`invalid_path`)" or "refused with `amount_out_of_range`" (§18),
# and the `unsupported_op` cell of the ops table.
ERROR_POSITIONS = [
    rf"(?<!Session )→\s*{CODE}", rf"\berror\s+{CODE}", rf"refused\s+\({CODE}", rf"refused\s+with\s+{CODE}",
    rf"anything else\s*\|\s*\|\s*{CODE}",
]


def spec_error_codes(text: str) -> set[str]:
    return {code for pattern in ERROR_POSITIONS for code in re.findall(pattern, text)}


@pytest.fixture(scope="module")
def spec_codes() -> set[str]:
    if not CONCEPTS.exists():
        pytest.fail(f"the specification is missing at {CONCEPTS}")
    return spec_error_codes(CONCEPTS.read_text(encoding="utf-8"))


def test_the_parser_finds_the_spec_error_codes(spec_codes: set[str]) -> None:
    # A sample from every section that names errors: if the spec's wording changes, this says the parser is lost.
    assert {"missing_sku", "unsupported_op", "invalid_path", "locked", "stale_rev", "no_ops", "in_progress",
            "idempotency_key_reused", "hold_expired", "empty_session", "invalid_transition",
            "amount_out_of_range", "price_override_not_allowed"} <= spec_codes
    assert len(spec_codes) >= 29


def test_every_error_code_in_concepts_exists_in_error_code(spec_codes: set[str]) -> None:
    missing = sorted(spec_codes - {code.value for code in ErrorCode})
    assert missing == [], f"codes named in concepts.md but absent from ErrorCode: {missing}"


def test_the_parser_ignores_codes_outside_error_positions() -> None:
    text = ("| `add_line` | `sku`, `qty` | empty sku → `missing_sku`; locked (error `locked`) | `created` event. "
            "8. Session → `committed`, `committed_at`. An override is refused\n  with `price_override_not_allowed`; "
            "`\"never\"`.")
    assert spec_error_codes(text) == {"missing_sku", "locked", "price_override_not_allowed"}


def test_every_spec_error_code_has_its_own_named_test(spec_codes: set[str]) -> None:
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("test_*.py"))
    untested = sorted(code for code in spec_codes if not re.search(rf"def test_error_{code}_\w+\(", sources))
    assert untested == [], f"error codes without a `test_error_<code>_…` test: {untested}"
