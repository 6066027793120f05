"""Nightly digests to named safeguarding leads: routing, ledger, outbox and delivery.

The digests of a night are built once, in one transaction with the ledger changes they report
(``alerts_night`` is the anchor), and queued in ``alerts_message``. Delivery then claims each
queued message, sends it (or writes it to ``<output>/<date>/outbox/`` on the embedded default)
and marks it delivered; a failed message stays queued for the next run or :func:`retry_outbox`.
Entry points return counts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.leads import DESIGNATED_KEY, Lead, LeadsConfig, LeadsConfigError, Recipient, load_leads, route_finding
from alerts.present import (
    CHANGE_LABELS,
    RULE_LABELS,
    RULE_ORDER,
    PeopleIndex,
    confidence_label,
    evidence_lines,
)
from alerts.render import build_message, render
from alerts.smtp import DeliveryError, Outgoing, SmtpSettings, SmtpTransport, load_smtp_settings
from alerts.state_tables import AlertAudit, AlertFinding, AlertLeadFinding, AlertMessage, AlertNight, utcnow
from safelink import outputs
from safelink.logging_setup import log_fields
from safelink.state import open_state

log = logging.getLogger(__name__)

CHANGE_ORDER = ("new", "updated", "no_longer_found", "moved")
DESIGNATED_FINDINGS_FILE = "designated_findings"


@dataclass
class DigestResult:
    """Counts from one call (safe for logs and Airflow XCom: no person data)."""

    findings: int = 0
    routed: int = 0
    unrouted: int = 0
    new: int = 0
    updated: int = 0
    no_longer_found: int = 0
    digests_built: int = 0
    already_built: int = 0
    stale_night: int = 0
    sent: int = 0
    written: int = 0
    failed: int = 0
    refused: int = 0
    still_queued: int = 0
    stuck_claims: int = 0  # left "sending" by a run that stopped mid-delivery: sent again now
    claimed_elsewhere: int = 0  # being delivered by another run right now (its claim is recent)
    last_error: str = ""  # the last delivery error tonight (no addresses, no content)

    @property
    def undelivered(self) -> int:
        """Messages not delivered yet (queued, or claimed and not recorded)."""
        return self.still_queued

    def summary(self) -> dict[str, int | str]:
        """The counts as a dict."""
        return asdict(self)


@dataclass
class _Now:
    """One finding as it stands tonight."""

    finding_id: str
    rule: str
    fingerprint: str
    first_seen: dt.date
    display: dict[str, Any]
    evidence: list[str]
    leads: set[str] = field(default_factory=set)


def _as_date(value: Any, default: dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return default
    return default


def _fingerprint(row: dict[str, Any]) -> str:
    base = row.get("evidence_fingerprint") or hashlib.sha256(str(row.get("evidence") or "").encode()).hexdigest()
    return hashlib.sha256(f"{base}|{bool(row.get('needs_confirmation'))}".encode()).hexdigest()


def read_findings(night_dir: Path) -> pl.DataFrame:
    """Read ``findings.parquet`` from the night's folder.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.

    Raises:
        FileNotFoundError: the rules stage has not written tonight's findings (nothing is
            reported as "no longer found" from a missing file).
    """
    path = night_dir / "findings.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the rules stage before sending digests")
    return pl.read_parquet(path)


def _read_people(night_dir: Path) -> pl.DataFrame | None:
    path = night_dir / "landing" / "people.parquet"
    if not path.exists():
        log.warning("landing/people.parquet missing: digests show record ids without initials")
        return None
    wanted = ["source", "record_id", "forename", "surname", "nhs_number"]
    frame = pl.read_parquet(path)
    return frame.select([c for c in wanted if c in frame.columns])


def _tonight(findings: pl.DataFrame, people: PeopleIndex, config: LeadsConfig, night: dt.date) -> dict[str, _Now]:
    pres = config.presentation
    out: dict[str, _Now] = {}
    for row in findings.iter_rows(named=True):
        fid = str(row["finding_id"])
        views = []
        if row.get("child_records"):
            views.append(people.view("Child", row["child_records"], pres.nhs_visible_digits, pres.show_record_ids))
        if row.get("adult_records"):
            views.append(people.view("Adult", row["adult_records"], pres.nhs_visible_digits, pres.show_record_ids))
        display = {
            "people": [v.as_dict() for v in views],
            "confidence": confidence_label(row.get("link_confidence")),
            "needs_confirmation": bool(row.get("needs_confirmation")),
            "summary": (row.get("summary") or "") if pres.show_summary else "",
        }
        out[fid] = _Now(
            finding_id=fid,
            rule=str(row["rule"]),
            fingerprint=_fingerprint(row),
            first_seen=_as_date(row.get("first_seen"), night),
            display=display,
            evidence=evidence_lines(row.get("evidence")),
            leads=route_finding(list(row.get("routes") or []), config),
        )
    return out


def _item(fid: str, change: str, rule: str, display: dict[str, Any], evidence: list[str], first_seen: dt.date,
          when: dt.date) -> dict[str, Any]:
    when_label = {"new": "found", "updated": "updated", "no_longer_found": "last found",
                  "moved": "last routed to you"}[change]
    return {
        "finding_id": fid, "change": change, "change_label": CHANGE_LABELS[change], "rule": rule,
        "needs_confirmation": bool(display.get("needs_confirmation")) and change in ("new", "updated"),
        "people": display.get("people", []), "summary": display.get("summary", ""),
        "evidence": evidence if change in ("new", "updated") else [],
        "confidence": display.get("confidence", "not stated"), "first_seen": first_seen.isoformat(),
        "when_label": when_label, "when": when.isoformat(),
    }


def _groups(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = sorted({i["rule"] for i in items}, key=lambda r: (RULE_ORDER.index(r) if r in RULE_ORDER else 99, r))
    groups = []
    for rule in rules:
        members = sorted((i for i in items if i["rule"] == rule),
                         key=lambda i: (CHANGE_ORDER.index(i["change"]), i["finding_id"]))
        groups.append({"rule": rule, "label": RULE_LABELS.get(rule, rule.replace("_", " ").capitalize()),
                       "entries": members})
    return groups


def digest_subject(night: dt.date, counts: dict[str, int]) -> str:
    """The generic subject line: date and counts, never names, diagnoses or service names.

    Args:
        night: the extract date.
        counts: ``new``, ``updated``, ``no_longer_found``, ``moved``.
    """
    subject = f"Safeguarding linkage digest {night.isoformat()}: {counts['new']} new, {counts['updated']} updated"
    if counts.get("no_longer_found"):
        subject += f", {counts['no_longer_found']} no longer found"
    if counts.get("moved"):
        subject += f", {counts['moved']} moved"
    return subject


def render_digest(night: dt.date, lead_name: str, lead_role: str, items: list[dict[str, Any]]) -> tuple[str, str, str]:
    """Render one lead's digest.

    Args:
        night: the extract date.
        lead_name: the lead's name (shown in the body only).
        lead_role: the lead's role.
        items: the digest entries (see ``_item``).

    Returns:
        subject, plain text, HTML.
    """
    counts = Counter(i["change"] for i in items)
    full = {k: counts.get(k, 0) for k in CHANGE_ORDER}
    subject = digest_subject(night, full)
    context = {"subject": subject, "night": night.isoformat(), "lead_name": lead_name, "lead_role": lead_role,
               "counts": full, "groups": _groups(items)}
    return subject, render("digest.txt.j2", **context), render("digest.html.j2", **context)


def stable_message_id(key: str, night: dt.date, kind: str, recipient: str, sender: str) -> str:
    """The Message-ID of the one message per (recipient key, night, kind): the same however often it is sent.

    A message sent again after a crash between the server's acceptance and the ledger's record carries
    the same Message-ID, so a receiving system that drops duplicates drops it. A hash, so no address or
    key shows in it.

    Args:
        key: the lead key (or ``designated``).
        night: the night.
        kind: ``digest`` or ``summary``.
        recipient: the recipient's address.
        sender: the From address (its domain ends the id).
    """
    digest = hashlib.sha256(f"{key}|{night.isoformat()}|{kind}|{recipient}".encode()).hexdigest()[:24]
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    return f"<safelink.{kind}.{night.strftime('%Y%m%d')}.{digest}@{domain}>"


def _queue(session: Session, night: dt.date, key: str, kind: str, recipient: str, sender: str, subject: str,
           text: str, html: str | None, file_name: str) -> AlertMessage:
    message_id, body = build_message(sender, recipient, subject, text, html, kind,
                                     message_id=stable_message_id(key, night, kind, recipient, sender))
    msg = AlertMessage(recipient_key=key, night=night, kind=kind, recipient=recipient, sender=sender,
                       subject=subject, message_id=message_id, file_name=file_name, body=body, status="queued",
                       attempts=0, created_at=utcnow())
    session.add(msg)
    session.flush()
    return msg


def _recipients(config: LeadsConfig) -> list[tuple[str, str, Lead | Recipient]]:
    """Who can receive findings: ``(ledger key, outbox file stem, recipient)``; the designated professionals
    receive the findings routed to them besides their daily summary."""
    found: list[tuple[str, str, Lead | Recipient]] = [(key, key, lead) for key, lead in config.leads.items()]
    found.append((DESIGNATED_KEY, DESIGNATED_FINDINGS_FILE, config.designated_professional))
    return found


def _build_night(session: Session, night_dir: Path, config: LeadsConfig, sender: str, night: dt.date,
                 result: DigestResult) -> None:
    findings = read_findings(night_dir)
    people = PeopleIndex(_read_people(night_dir))
    tonight = _tonight(findings, people, config, night)
    result.findings = len(tonight)
    result.routed = sum(1 for f in tonight.values() if f.leads)
    result.unrouted = result.findings - result.routed

    # Finding-level ledger: first/last seen, fingerprint, still present.
    known = {f.finding_id: f for f in session.scalars(select(AlertFinding))}
    per_rule: dict[str, Counter[str]] = {}
    for fid, now in tonight.items():
        row = known.get(fid)
        if row is None or not row.present:
            change = "new"
        elif row.fingerprint != now.fingerprint:
            change = "updated"
        else:
            change = "unchanged"
        per_rule.setdefault(now.rule, Counter())[change] += 1
        per_rule[now.rule]["total"] += 1
        if row is None:
            session.add(AlertFinding(finding_id=fid, rule=now.rule, first_seen=min(now.first_seen, night),
                                     last_seen=night, fingerprint=now.fingerprint, present=True,
                                     display=now.display))
        else:
            row.last_seen, row.fingerprint, row.present, row.gone_night = night, now.fingerprint, True, None
            row.display = now.display
    for fid, row in known.items():
        if row.present and fid not in tonight:
            row.present, row.gone_night = False, night
            per_rule.setdefault(row.rule, Counter())["no_longer_found"] += 1
    for counts in per_rule.values():
        result.new += counts["new"]
        result.updated += counts["updated"]
        result.no_longer_found += counts["no_longer_found"]

    # Per-lead ledger: what each lead has been told.
    told = {(r.lead_key, r.finding_id): r for r in session.scalars(select(AlertLeadFinding))}
    leads_with_digest = 0
    for key, file_stem, lead in _recipients(config):
        items: list[dict[str, Any]] = []
        mine = {fid for fid, now in tonight.items() if key in now.leads}
        for fid in sorted(mine):
            now = tonight[fid]
            sent = told.get((key, fid))
            if sent is None:
                change = "new"
                session.add(AlertLeadFinding(lead_key=key, finding_id=fid, fingerprint_sent=now.fingerprint,
                                             first_sent_night=night, last_sent_night=night, closed=False))
            elif sent.closed:
                change = "new"
            elif sent.fingerprint_sent != now.fingerprint:
                change = "updated"
            else:
                continue
            if sent is not None:
                sent.fingerprint_sent, sent.last_sent_night, sent.closed, sent.closed_night = (
                    now.fingerprint, night, False, None)
            items.append(_item(fid, change, now.rule, now.display, now.evidence, now.first_seen, night))
        for (lead_key, fid), sent in told.items():
            if lead_key != key or sent.closed or fid in mine:
                continue
            change = "moved" if fid in tonight else "no_longer_found"
            ledger = known.get(fid)
            sent.closed, sent.closed_night = True, night
            if ledger is None:
                continue
            last = ledger.last_seen if change == "no_longer_found" else sent.last_sent_night
            items.append(_item(fid, change, ledger.rule, ledger.display, [], ledger.first_seen, last))
        if not items:
            continue
        subject, text, html = render_digest(night, lead.name, lead.role, items)
        msg = _queue(session, night, key, "digest", lead.email, sender, subject, text, html,
                     f"{file_stem}_{night.isoformat()}.eml")
        leads_with_digest += 1
        for item in items:
            session.add(AlertAudit(night=night, message_pk=msg.id, recipient_key=key, recipient=lead.email,
                                   event="queued", finding_id=item["finding_id"], change=item["change"],
                                   reason=f"{item['change']} for lead coverage", at=utcnow()))
    result.digests_built = leads_with_digest

    waiting = session.scalar(select(func.count()).select_from(AlertMessage).where(
        AlertMessage.status.in_(("queued", "sending")), AlertMessage.night < night)) or 0
    rows = [{"label": RULE_LABELS.get(rule, rule), "total": c["total"], "new": c["new"], "updated": c["updated"],
             "no_longer_found": c["no_longer_found"]}
            for rule, c in sorted(per_rule.items(), key=lambda kv: RULE_ORDER.index(kv[0])
                                  if kv[0] in RULE_ORDER else 99)]
    needs_confirmation = sum(1 for f in tonight.values() if f.display["needs_confirmation"])
    totals = [("Findings open tonight", result.findings), ("Needing confirmation", needs_confirmation),
              ("Not routed to any lead", result.unrouted), ("Lead digests tonight", leads_with_digest),
              ("Earlier messages still waiting to be delivered", waiting)]
    designated = config.designated_professional
    subject = f"Safeguarding linkage daily summary {night.isoformat()}"
    context = {"subject": subject, "night": night.isoformat(), "rows": rows, "totals": totals}
    msg = _queue(session, night, DESIGNATED_KEY, "summary", designated.email, sender, subject,
                 render("summary.txt.j2", **context), render("summary.html.j2", **context),
                 f"{DESIGNATED_KEY}_{night.isoformat()}.eml")
    session.add(AlertAudit(night=night, message_pk=msg.id, recipient_key=DESIGNATED_KEY, recipient=designated.email,
                           event="queued", reason="daily summary (counts only)", at=utcnow()))
    session.add(AlertNight(night=night, built_at=utcnow(), counts=result.summary()))


def check_demo_addresses(config: LeadsConfig, settings: SmtpSettings) -> None:
    """Refuse placeholder (demo) lead addresses when a real SMTP server is configured.

    Args:
        config: the leads configuration.
        settings: the SMTP settings.

    Raises:
        LeadsConfigError: ``demo_addresses`` is true and an SMTP host is set.
    """
    if settings.configured and config.demo_addresses:
        raise LeadsConfigError(
            "leads.yaml: demo_addresses is true (placeholder mailboxes) but an SMTP host is configured: "
            "fill in the real addresses and set demo_addresses: false, or unset SAFELINK_SMTP_HOST"
        )


def _deliver(engine: Engine, config: LeadsConfig, settings: SmtpSettings, output_dir: Path,
             result: DigestResult) -> None:
    """Deliver (or write) every queued message; failures stay queued (guarantee: docs/operations.md)."""
    stale = utcnow() - dt.timedelta(seconds=settings.claim_timeout)
    stuck = (AlertMessage.status == "sending") & (AlertMessage.claimed_at < stale)
    pending = or_(AlertMessage.status == "queued", stuck)
    with Session(engine) as session:
        ids = list(session.scalars(select(AlertMessage.id).where(pending).order_by(AlertMessage.id)))
        result.stuck_claims = session.scalar(select(func.count()).select_from(AlertMessage).where(stuck)) or 0
        result.claimed_elsewhere = session.scalar(select(func.count()).select_from(AlertMessage).where(
            AlertMessage.status == "sending", AlertMessage.claimed_at >= stale)) or 0
    if result.stuck_claims:
        log.warning("stuck_claims=%d: messages left 'sending' by a run that stopped mid-delivery are sent again "
                    "(a server that had accepted one may deliver it twice, with the same Message-ID)",
                    result.stuck_claims)
    if result.claimed_elsewhere:
        log.warning("claimed_elsewhere=%d: messages being delivered by another run right now are left to it",
                    result.claimed_elsewhere)
    transport = SmtpTransport(settings) if settings.configured else None
    server_down = False
    try:
        for pk in ids:
            if server_down:
                break
            with engine.begin() as conn:  # claim: only one run delivers a message
                claimed = conn.execute(update(AlertMessage).where(AlertMessage.id == pk, pending)
                                       .values(status="sending", claimed_at=utcnow()))
            if claimed.rowcount != 1:
                continue
            with Session(engine) as session:
                msg = session.get_one(AlertMessage, pk)
                event, reason = "", ""
                if not config.is_allowed(msg.recipient):
                    msg.status, msg.last_error = "queued", "recipient domain not on the allow-list"
                    event, reason = "refused", msg.last_error
                    result.refused += 1
                elif transport is None:
                    folder = output_dir / msg.night.isoformat() / "outbox"
                    folder.mkdir(parents=True, exist_ok=True)
                    outputs.write_bytes(folder / msg.file_name, msg.body.encode("utf-8"))
                    msg.status, msg.delivered_at = "written", utcnow()
                    event, reason = "written", f"outbox/{msg.file_name} (no SMTP host configured)"
                    result.written += 1
                else:
                    msg.attempts += 1
                    try:
                        transport.send(Outgoing(msg.sender, msg.recipient, msg.body))
                    except DeliveryError as exc:
                        msg.status, msg.last_error = "queued", exc.reason[:200]
                        event, reason = "failed", exc.reason
                        result.failed += 1
                        result.last_error = exc.reason
                        server_down = exc.connection_level
                    else:
                        msg.status, msg.delivered_at, msg.last_error = "sent", utcnow(), None
                        event, reason = "sent", f"accepted by {settings.host}"
                        result.sent += 1
                session.add(AlertAudit(night=msg.night, message_pk=msg.id, recipient_key=msg.recipient_key,
                                       recipient=msg.recipient, event=event, reason=reason[:200], at=utcnow()))
                session.commit()
                log.info("message=%s kind=%s night=%s event=%s", msg.id, msg.kind, msg.night, event)
    finally:
        if transport is not None:
            transport.close()
    with Session(engine) as session:
        result.still_queued = session.scalar(select(func.count()).select_from(AlertMessage).where(
            AlertMessage.status.in_(("queued", "sending")))) or 0


@contextmanager
def _delivery(config_dir: Path, state_url: str,
              smtp: SmtpSettings | None) -> Iterator[tuple[LeadsConfig, SmtpSettings, Engine]]:
    """Leads, SMTP settings (refusing demo addresses over real SMTP) and the state database, for one call."""
    config = load_leads(config_dir)
    settings = smtp if smtp is not None else load_smtp_settings()
    check_demo_addresses(config, settings)
    engine = open_state(state_url)
    try:
        yield config, settings, engine
    finally:
        engine.dispose()


def send_digests(night_dir: Path, config_dir: Path, state_url: str, extract_date: dt.date, *,
                 smtp: SmtpSettings | None = None) -> DigestResult:
    """Build tonight's digests (once per night) and deliver everything queued.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>`` holding ``findings.parquet`` and ``landing/people.parquet``.
        config_dir: the configuration folder holding ``leads.yaml``.
        state_url: the state database URL.
        extract_date: the night.
        smtp: SMTP settings (default: from the environment; no host means ``.eml`` files).

    Returns:
        Counts only.
    """
    result = DigestResult()
    with _delivery(config_dir, state_url, smtp) as (config, settings, engine):
        with Session(engine) as session:
            latest = session.scalar(select(func.max(AlertNight.night)))
            if session.get(AlertNight, extract_date) is not None:
                result.already_built = 1
                log.info("digests for %s were built before: delivering only what is still queued", extract_date)
            elif latest is not None and latest > extract_date:
                result.stale_night = 1
                log.warning("digests for %s not built: a later night (%s) has been processed", extract_date, latest)
            else:
                _build_night(session, night_dir, config, settings.sender, extract_date, result)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    result = DigestResult(already_built=1)
                    log.info("digests for %s were built by a concurrent run", extract_date)
        _deliver(engine, config, settings, night_dir.parent, result)
    log.info("digests done", extra={"extract_date": extract_date.isoformat(), **log_fields(result.summary())})
    return result


def retry_outbox(output_dir: Path, config_dir: Path, state_url: str, *,
                 smtp: SmtpSettings | None = None) -> DigestResult:
    """Deliver every message still queued (each exactly once).

    Args:
        output_dir: the deployment's output folder (``.eml`` files go to ``<output>/<date>/outbox/``).
        config_dir: the configuration folder holding ``leads.yaml``.
        state_url: the state database URL.
        smtp: SMTP settings (default: from the environment).

    Returns:
        Counts only.
    """
    result = DigestResult()
    with _delivery(config_dir, state_url, smtp) as (config, settings, engine):
        _deliver(engine, config, settings, output_dir, result)
    log.info("outbox retry done", extra=log_fields(result.summary()))
    return result


_NHS_LIKE = re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b")
_DATE_LIKE = re.compile(r"\b(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})\b")
_POSTCODE_LIKE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def mask_error(error: str, limit: int = 2000) -> str:
    """Mask NHS-number-, date- and postcode-like text in an error message and bound its length.

    Args:
        error: the error text (callers should pass the exception type and message, not data).
        limit: the maximum length kept.
    """
    text = _NHS_LIKE.sub("[number]", error)
    text = _DATE_LIKE.sub("[date]", text)
    text = _POSTCODE_LIKE.sub("[postcode]", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failure_outbox(output_dir: Path | None) -> Path:
    if output_dir is not None:
        return output_dir / "outbox"
    env = os.environ.get("SAFELINK_OUTPUT")
    return (Path(env) if env else Path.cwd()) / "outbox"


def send_failure_notice(config_dir: Path, dag_id: str, task_id: str, run_date: str, error: str, log_url: str, *,
                        smtp: SmtpSettings | None = None, output_dir: Path | None = None) -> None:
    """Tell data engineering that a pipeline task failed (no person data; never raises on delivery).

    Args:
        config_dir: the configuration folder holding ``leads.yaml`` (``data_engineering.email``).
        dag_id: the DAG id.
        task_id: the failed task id.
        run_date: the run's logical date.
        error: the error (masked: NHS-number-, date- and postcode-like text is replaced).
        log_url: link to the task log.
        smtp: SMTP settings (default: from the environment; no host means an ``.eml`` file).
        output_dir: where the ``outbox/`` folder goes without SMTP (default ``$SAFELINK_OUTPUT``, else the
            working directory).
    """
    config = load_leads(config_dir)
    settings = smtp if smtp is not None else load_smtp_settings()
    recipient = config.data_engineering.email
    safe_date = _SAFE_NAME.sub("_", run_date)[:40]
    subject = f"Safeguarding linkage pipeline failure: {_SAFE_NAME.sub('_', dag_id)[:60]} {safe_date}"
    text = render("failure.txt.j2", dag_id=dag_id, task_id=task_id, run_date=run_date,
                  error=mask_error(error), log_url=log_url)
    _, body = build_message(settings.sender, recipient, subject, text, None, "failure")
    if settings.configured and not config.demo_addresses:
        try:
            with SmtpTransport(settings) as transport:
                transport.send(Outgoing(settings.sender, recipient, body))
            log.info("failure notice sent for %s.%s", dag_id, task_id)
            return
        except DeliveryError as exc:
            log.warning("failure notice not delivered (%s): writing it to the outbox", exc.reason)
    folder = _failure_outbox(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"failure_{safe_date}_{uuid.uuid4().hex[:8]}.eml"
    outputs.write_bytes(folder / name, body.encode("utf-8"))
    log.info("failure notice written to %s", folder / name)
