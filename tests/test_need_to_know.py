"""The need-to-know view of a finding (the library function the digests and the case view share)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from alerts import send_digests
from alerts.need_to_know import NeedToKnow, designated_recipient, what_changed
from alerts.smtp import SmtpSettings
from tests.helpers.digest_fixtures import findings, need_to_know, people_frame, write_config
from tests.helpers.mail import read_eml

NIGHT1, NIGHT2 = dt.date(2026, 11, 25), dt.date(2026, 11, 26)


def _by_id(rule: str, fid: str) -> dict:
    return next(f for f in findings()[rule] if f["finding_id"] == fid)


def test_own_record_ids_only_and_other_services_by_name_team_and_contact(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path)
    view = ntk.view(_by_id("significant_adult", "F0000000000sa"), ntk.recipient("sn"))
    blocks = {b.service: b for b in view.services}
    assert blocks["sn"].record_ids == ["753230"] and blocks["sn"].own
    assert blocks["tp"].record_ids == [] and blocks["amh"].record_ids == [] and blocks["gp"].record_ids == []
    assert blocks["tp"].team == ""  # Turning Point's team value is the keyworker's own name
    assert blocks["amh"].team == "team CMHT Vale Royal"
    assert blocks["amh"].contact == "Adult mental health safeguarding lead (amh@nhs.net)"


def test_mental_health_is_not_told_of_substance_misuse_the_rule_did_not_need(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path)
    view = ntk.view(_by_id("significant_adult", "F0000000000sa"), ntk.recipient("amh"))
    assert [b.service for b in view.services] == ["sn", "amh", "gp"]
    assert "Safeguarding lead (substance misuse)" not in view.also_sent_to
    assert view.also_sent_to == ["Named nurse (school nursing)",
                                 "1 other safeguarding lead in a service whose involvement is not shared with you"]
    assert "TP17808" not in json.dumps(view.as_dict())


def test_dental_is_not_told_of_a_protection_plan_but_gp_is(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path)
    baby = _by_id("repeated_non_attendance", "F00000000rna2")
    dental = json.dumps(ntk.view(baby, ntk.recipient("dental")).as_dict())
    gp = json.dumps(ntk.view(baby, ntk.recipient("gp")).as_dict())
    assert "child protection plan" not in dental and "child protection plan" in gp
    assert "104500" not in gp and "23695" in gp  # the GP sees its own EMIS number, not health visiting's id


def test_lead_chosen_by_rule_and_the_lead_told_so(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path)
    dsp = _by_id("dual_service_parent", "F000000000dsp")
    assert ntk.view(dsp, ntk.recipient("hv")).lead == "Turning Point safeguarding lead (tp@nhs.net)"
    tp_view = ntk.view(dsp, ntk.recipient("tp"))
    assert tp_view.lead.endswith("- that is you") and tp_view.respond.startswith("You lead on this finding")
    ui = _by_id("unshared_involvement", "F0000000000ui")
    assert ntk.view(ui, ntk.recipient("sn")).lead == "CAMHS safeguarding lead (camhs@nhs.net)"


def test_case_view_address_when_configured(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path, case_view_url="https://safelink.example.nhs.uk/")
    view = ntk.view(_by_id("unshared_involvement", "F0000000000ui"), ntk.recipient("camhs"))
    assert view.respond_url == "https://safelink.example.nhs.uk/findings/F0000000000ui"
    assert need_to_know(tmp_path / "b").view(_by_id("unshared_involvement", "F0000000000ui"),
                                             ntk.recipient("camhs")).respond_url == ""


def test_needs_confirmation_says_what_to_check(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path)
    view = ntk.view(_by_id("significant_adult", "F00000000sahv"), ntk.recipient("hv"))
    assert view.needs_confirmation.startswith("Check first: the records behind this finding were matched with "
                                              "42.0% confidence")


def test_designated_sees_no_record_ids(tmp_path: Path) -> None:
    ntk = need_to_know(tmp_path)
    view = ntk.view(findings()["cumulative_concern"][0], designated_recipient(ntk.leads))
    assert all(b.record_ids == [] for b in view.services) and view.lead.endswith("- that is you")


def test_what_changed_in_plain_words() -> None:
    names = {"hv": "Health visiting"}
    before = {"missed_count:hv": "1 missed appointment in October 2026."}
    now = {"missed_count:hv": "2 missed appointments in October 2026.", "protection_flag:hv": "Records a plan."}
    assert what_changed(before, now, names) == [
        "Health visiting: now: 2 missed appointments in October 2026. (before: 1 missed appointment in October "
        "2026.)",
        "New - Health visiting: Records a plan.",
    ]
    assert what_changed(now, now, names, False, True) == ["The records now need confirming before acting."]
    assert what_changed(now, now, names) == [
        "Details held by another service changed; nothing shared with you changed."]
    assert what_changed(None, now, names) == [
        "The evidence behind this finding changed (the earlier details were not kept)."]


def _night(output: Path, night: dt.date, rows: list[dict]) -> Path:
    import polars as pl

    night_dir = output / night.isoformat()
    (night_dir / "landing").mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(rows).with_columns(pl.lit(night).alias("last_seen"))
    frame.write_parquet(night_dir / "findings.parquet")
    people_frame().write_parquet(night_dir / "landing" / "people.parquet")
    return night_dir


def test_an_update_says_what_changed_for_that_reader(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config")
    url, out = f"sqlite:///{tmp_path / 'state.sqlite'}", tmp_path / "out"
    first = _by_id("repeated_non_attendance", "F00000000rna2")
    send_digests(_night(out, NIGHT1, [first]), config, url, NIGHT1, smtp=SmtpSettings(host=""))
    evidence = json.loads(first["evidence"])
    evidence["missed_appointments"].append({"source": "hv", "record_id": "104500", "date": "2026-11-20",
                                            "time": None, "type": "Clinic", "outcome": "Was Not Brought"})
    second = first | {"evidence": json.dumps(evidence), "evidence_fingerprint": "fp2"}
    send_digests(_night(out, NIGHT2, [second]), config, url, NIGHT2, smtp=SmtpSettings(host=""))
    _, hv, _ = read_eml(out / NIGHT2.isoformat() / "outbox" / "hv_2026-11-26.eml")
    _, gp, html = read_eml(out / NIGHT2.isoformat() / "outbox" / "gp_2026-11-26.eml")
    assert "[Updated] Reference F00000000rna2" in hv and "What changed:" in hv
    assert "Missed on: 1 October 2026 (1 Year Review); 20 November 2026 (Clinic)" in " ".join(hv.split())
    assert "Health visiting: now: 2 missed appointments between October 2026 and November 2026" in " ".join(
        gp.split())
    assert "20 November 2026" not in gp and "What changed:" in html  # the GP is told the count, not the dates


def test_view_is_a_library_function_for_the_case_view(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config")
    night_dir = tmp_path / "night"
    (night_dir / "landing").mkdir(parents=True)
    people_frame().write_parquet(night_dir / "landing" / "people.parquet")
    ntk = NeedToKnow.load(config, night_dir, case_view_url="")
    view = ntk.view(_by_id("unshared_involvement", "F0000000000ui"), ntk.recipient("sn")).as_dict()
    assert view["people"] == [{"role": "Child", "initials": "M.R.", "nhs": "*** *** 2713"}]
    assert view["next_step"].startswith("Check that your record lists CAMHS involvement")
