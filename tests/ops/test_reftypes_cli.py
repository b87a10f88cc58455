"""`omniman reftypes apply FILE` and `list`: all or nothing, errors that name the entry and the key; settings too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omniman_gql.cli import main
from omniman_gql.runtime import Hub
from omniman_gql.services import refs
from omniman_gql.settings import Settings, get_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", database_url)
    monkeypatch.delenv("OMNIMAN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        yield database_url
    finally:
        get_settings.cache_clear()


def test_apply_is_all_or_nothing_then_applies_and_lists(cli_database: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ref_types:\n  - {code: BUZZER, label: Buzzer, target: both}\n"
                   "  - {code: LOCKER, label: Locker, scope: forever}\n", encoding="utf-8")
    assert main(["reftypes", "apply", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "ref_types.1.scope: must be one of channel, business_day" in err and "Nothing was applied" in err
    assert main(["reftypes", "list"]) == 0
    assert "BUZZER" not in capsys.readouterr().out
    good = tmp_path / "good.json"
    good.write_text('[{"code": "BUZZER", "label": "Buzzer", "target": "both", "scope": "business_day", '
                    '"copy_to_order": true}]', encoding="utf-8")
    assert main(["reftypes", "apply", str(good)]) == 0
    assert "1 ref type(s) applied" in capsys.readouterr().out
    assert main(["reftypes", "list"]) == 0
    listed = capsys.readouterr().out
    assert "BUZZER" in listed and "copy_to_order" in listed and "TABLE" in listed
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["reftypes", "apply", str(broken)]) == 1
    assert "cannot read" in capsys.readouterr().err


async def test_ref_types_from_settings_join_the_shipped_ones(database_url: str) -> None:
    hub = Hub.create(Settings(database_url=database_url, redis_url=None,
                              ref_types='[{"code": "PAGER", "label": "Pager", "target": "both"}]'))
    try:
        codes = {spec.code: spec for spec in await refs.list_ref_types(hub)}
    finally:
        await hub.dispose()
    assert codes["PAGER"].target == "both" and {"TABLE", "TAB", "TICKET", "EXTERNAL"} <= set(codes)


def test_bad_ref_types_in_settings_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="ref_types"):
        Settings(ref_types='[{"code": "bad"}]')
