"""The sharing matrix is validated on load: what may never go to another service is refused, with the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.sharing import SharingConfigError, load_sharing

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = yaml.safe_load((ROOT / "config" / "sharing.yaml").read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "sharing.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


def _copy() -> dict:
    return yaml.safe_load(yaml.safe_dump(SHIPPED))


def test_shipped_matrix_loads_and_covers_every_rule_of_the_contract() -> None:
    sharing = load_sharing(ROOT / "config")
    assert set(sharing.rules) >= {"repeated_non_attendance", "significant_adult", "dual_service_parent",
                                  "unshared_involvement", "cumulative_concern"}
    assert set(sharing.services) == {"hv", "sn", "camhs", "gp", "dental", "tp", "amh"}


@pytest.mark.parametrize("fact", ["record_ids", "missed_dates"])
def test_own_only_fact_for_another_service_is_refused(tmp_path: Path, fact: str) -> None:
    data = _copy()
    data["rules"]["repeated_non_attendance"]["recipients"]["gp"]["other"].append(fact)
    with pytest.raises(SharingConfigError, match=rf"rules\.repeated_non_attendance\.recipients\.gp.*{fact}.*never"):
        load_sharing(_write(tmp_path, data))


def test_qualified_own_only_fact_is_refused_too(tmp_path: Path) -> None:
    data = _copy()
    data["rules"]["significant_adult"]["recipients"]["hv"]["other"].append("record_ids@tp")
    with pytest.raises(SharingConfigError, match="record_ids"):
        load_sharing(_write(tmp_path, data))


def test_fact_a_rule_does_not_produce_is_refused(tmp_path: Path) -> None:
    data = _copy()
    data["rules"]["unshared_involvement"]["recipients"]["sn"]["other"].append("appointment_time")
    with pytest.raises(SharingConfigError, match=r"unshared_involvement\.recipients\.sn\.other.*appointment_time"):
        load_sharing(_write(tmp_path, data))


def test_rule_without_default_entry_is_refused(tmp_path: Path) -> None:
    data = _copy()
    del data["rules"]["dual_service_parent"]["next_step"]["default"]
    with pytest.raises(SharingConfigError, match=r"dual_service_parent\.next_step.*default"):
        load_sharing(_write(tmp_path, data))


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    data = _copy()
    data["rules"]["significant_adult"]["share_everything"] = True
    with pytest.raises(SharingConfigError, match="share_everything"):
        load_sharing(_write(tmp_path, data))


def test_case_view_path_must_hold_the_reference(tmp_path: Path) -> None:
    data = _copy()
    data["respond"]["case_view_path"] = "/findings"
    with pytest.raises(SharingConfigError, match="reference"):
        load_sharing(_write(tmp_path, data))


def test_missing_file_and_missing_rule_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SharingConfigError, match=r"sharing\.yaml: missing"):
        load_sharing(tmp_path)
    with pytest.raises(SharingConfigError, match="rule 'new_rule' has no entry"):
        load_sharing(ROOT / "config").rule("new_rule")
    with pytest.raises(SharingConfigError, match=r"no entry under 'rules' for new_rule: add one"):
        load_sharing(ROOT / "config", rules=["significant_adult", "new_rule"])


def test_a_lead_covering_two_services_gets_both_entries_and_unlisted_kinds_the_default() -> None:
    sharing = load_sharing(ROOT / "config")
    both = sharing.entries_for("repeated_non_attendance", frozenset({"dental", "hv"}))
    assert "protection_flag" in both.other  # from hv's entry; dental's alone would not have it
    assert not sharing.entries_for("repeated_non_attendance", frozenset({"dental"})).allows(
        "protection_flag", "hv", own=False)
    unlisted = sharing.entries_for("significant_adult", frozenset({"pharmacy"}))
    assert unlisted == sharing.rules["significant_adult"].recipients["default"]
