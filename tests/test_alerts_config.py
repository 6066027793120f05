"""leads.yaml validation and routing of findings to leads."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from alerts.leads import LeadsConfigError, load_leads, parse_route, route_finding
from tests import test_alerts_helpers as helpers
from tests.helpers.config import config_folder
from tests.test_alerts_helpers import LEADS_YAML, TEST_DOMAIN

config_dir = helpers.config_dir

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "sample" / "2026-11-25"
ROUTE_COLUMNS = [  # file, encoding, column, route prefix
    ("HV_Caseload", "utf-8-sig", "HV Team", "hv:team:"),
    ("SN_Caseload", "utf-8", "Team", "sn:team:"),
    ("CAMHS_Referrals", "utf-8", "TEAM", "camhs:team:"),
    ("GP_RegisteredPatients", "utf-8", "Practice Code", "gp:practice:"),
    ("Dental_Patients", "cp1252", "Practice", "dental:practice:"),
    ("TP_Clients", "utf-8", "Keyworker", "tp:team:"),
    ("AMH_Patients", "utf-8", "Team", "amh:team:"),
]


def _write(tmp_path: Path, text: str) -> Path:
    folder = config_folder(tmp_path / "cfg")
    (folder / "leads.yaml").write_text(text, encoding="utf-8")
    return folder


def test_shipped_config_routes_every_sample_team_to_a_named_lead() -> None:
    config = load_leads(ROOT / "config")
    assert config.allowed_recipient_domains == ["nhs.net"] and config.demo_addresses
    for name, encoding, column, prefix in ROUTE_COLUMNS:
        with (SAMPLE / f"{name}_20261125.csv").open(encoding=encoding, newline="") as fh:
            values = {row[column] for row in csv.DictReader(fh) if row[column]}
        for value in values:
            leads = route_finding([prefix + value], config)
            assert leads and not any(k.endswith("catch_all") for k in leads), (name, value, leads)


def test_shipped_config_has_a_catch_all_for_every_service() -> None:
    config = load_leads(ROOT / "config")
    for service in ("hv", "sn", "camhs", "gp", "dental", "tp", "amh"):
        assert route_finding([f"{parse_prefix(service)}Team Nobody Knows"], config), service


def parse_prefix(service: str) -> str:
    return f"{service}:{'practice' if service in ('gp', 'dental') else 'team'}:"


def test_routing_rules(config_dir: Path) -> None:
    config = load_leads(config_dir)
    assert route_finding(["hv:team:chester  central hv"], config) == {"hv_chester"}  # case and spaces
    assert route_finding(["hv:team:Somewhere Else HV"], config) == {"hv_catch_all"}
    assert route_finding(["camhs:team:Anything"], config) == {"camhs"}  # whole service
    assert route_finding(["gp:practice:N81012", "tp:team:Chantelle Reid"], config) == {"gp_vale_royal", "tp"}
    assert route_finding(["gp:practice:N99999"], config) == set()  # no gp catch-all in this config
    assert route_finding(["bogus", "hv:practice:X", "dental:team:Y"], config) == set()
    assert parse_route("gp:practice:N81006") == ("gp", "N81006")


def test_recipient_outside_allow_list_refused(tmp_path: Path) -> None:
    text = LEADS_YAML.replace(f"camhs@{TEST_DOMAIN}", "camhs.lead@gmail.com")
    with pytest.raises(LeadsConfigError) as info:
        load_leads(_write(tmp_path, text))
    message = str(info.value)
    assert "leads.yaml" in message and "leads.camhs.email" in message and "gmail.com" in message
    assert "allowed_recipient_domains" in message and "nhs.net" in message


@pytest.mark.parametrize(("change", "key", "allowed"), [
    (("covers: {gp: [N81012]}", "covers: {gp: [practice one]}"), "leads.gp_vale_royal.covers.gp", "ODS code"),
    (("covers: {services: [camhs]}", "covers: {services: [cahms]}"), "leads.camhs.covers.services.0",
     "'hv', 'sn', 'camhs'"),
    (("covers: {services: [camhs]}", "covers: {}"), "leads.camhs", "covers nothing"),
    (("email: tp@", "email: tp-at-"), "leads.tp.email", "not an e-mail address"),
    (("  tp:\n", "  TP Lead:\n"), "leads", "lower case letters"),
    (("role: Named GP\n", "role: Named GP\n    phone: 0123\n"), "leads.gp_vale_royal.phone", "Extra inputs"),
])
def test_invalid_config_names_file_key_and_what_is_allowed(tmp_path: Path, change: tuple[str, str], key: str,
                                                           allowed: str) -> None:
    old, new = change
    assert old in LEADS_YAML
    with pytest.raises(LeadsConfigError) as info:
        load_leads(_write(tmp_path, LEADS_YAML.replace(old, new, 1)))
    message = str(info.value)
    assert str(tmp_path / "cfg" / "leads.yaml") in message
    assert key in message and allowed in message, message


def test_missing_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(LeadsConfigError, match="missing"):
        load_leads(tmp_path)
    with pytest.raises(LeadsConfigError, match="not valid YAML"):
        load_leads(_write(tmp_path, "leads: [unclosed"))
