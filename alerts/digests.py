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
from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.compose import closed_entry, digest_subject, finding_display, open_entry, render_digest
from alerts.leads import DESIGNATED_KEY, LeadsConfig, LeadsConfigError, load_leads
from alerts.need_to_know import FindingView, NeedToKnow, Recipient, RecordIndex, designated_recipient, read_people
from alerts.render import build_message, render
from alerts.responses import finding_fingerprint, is_suppressed, suppressed
from alerts.sharing import load_sharing
from alerts.smtp import DeliveryError, Outgoing, SmtpSettings, SmtpTransport, load_smtp_settings
from alerts.state_tables import AlertAudit, AlertFinding, AlertLeadFinding, AlertMessage, AlertNight, utcnow
from alerts.summary import summary_context
from ground import outputs
from ground.allocation import gc_paused
from ground.logs import log_fields, redact
from ground.settings import load_settings
from ground.state import open_state

log = logging.getLogger(__name__)

__all__ = ["DigestResult", "digest_subject", "night_delivery", "night_figures", "render_digest", "retry_outbox",
           "send_digests",
           "send_failure_notice"]
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
    row: dict[str, Any]
    recipients: list[Recipient]
    display: dict[str, Any] = field(default_factory=dict)
    views: dict[str, FindingView] = field(default_factory=dict)

    @property
    def leads(self) -> set[str]:
        """The keys of everyone the finding goes to tonight."""
        return {r.key for r in self.recipients}


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


def _tonight(findings: pl.DataFrame, ntk: NeedToKnow, night: dt.date) -> dict[str, _Now]:
    out: dict[str, _Now] = {}
    for row in findings.iter_rows(named=True):
        fid = str(row["finding_id"])
        recipients = ntk.recipients_of(row)
        now = _Now(finding_id=fid, rule=str(row["rule"]), fingerprint=finding_fingerprint(row),
                   first_seen=_as_date(row.get("first_seen"), night), row=row, recipients=recipients)
        now.views = views = {r.key: ntk.view(row, r, recipients) for r in recipients}
        any_view = next(iter(views.values()), None) or ntk.view(row, designated_recipient(ntk.leads), recipients)
        now.display = finding_display(any_view, recipients) | {
            "needs_confirmation": bool(row.get("needs_confirmation")),
            "facts": {key: view.facts_by_key for key, view in views.items()},
        }
        out[fid] = now
    return out


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


def _ledger_findings(session: Session, tonight: dict[str, _Now], night: dt.date,
                     result: DigestResult) -> tuple[dict[str, AlertFinding], dict[str, dict[str, Any]],
                                                    dict[str, Counter[str]]]:
    """Finding-level ledger: first/last seen, fingerprint, still present; per-rule counts.

    Returns the ledger rows, each finding's display as stored before tonight, and counts per rule.
    """
    known = {f.finding_id: f for f in session.scalars(select(AlertFinding))}
    before = {fid: dict(row.display or {}) for fid, row in known.items()}
    per_rule: dict[str, Counter[str]] = {}
    added: list[dict[str, Any]] = []
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
            added.append({"finding_id": fid, "rule": now.rule, "first_seen": min(now.first_seen, night),
                          "last_seen": night, "fingerprint": now.fingerprint, "present": True,
                          "display": now.display})
        else:
            row.last_seen, row.fingerprint, row.present, row.gone_night = night, now.fingerprint, True, None
            row.display = now.display
    _insert(session, AlertFinding, added)
    for fid, row in known.items():
        if row.present and fid not in tonight:
            row.present, row.gone_night = False, night
            per_rule.setdefault(row.rule, Counter())["no_longer_found"] += 1
    for counts in per_rule.values():
        result.new += counts["new"]
        result.updated += counts["updated"]
        result.no_longer_found += counts["no_longer_found"]
    return known, before, per_rule


def _insert(session: Session, table: type[Any], rows: list[dict[str, Any]]) -> None:
    """New ledger rows in one bulk INSERT (thousands on a first night: no ORM object each)."""
    if rows:
        session.execute(insert(table), rows)


def _recipient_items(session: Session, recipient: Recipient, tonight: dict[str, _Now],
                     told: dict[tuple[str, str], AlertLeadFinding], known: dict[str, AlertFinding],
                     before: dict[str, dict[str, Any]], ntk: NeedToKnow, night: dt.date) -> list[dict[str, Any]]:
    """One recipient's entries tonight (new, updated, no longer found, moved), updating what they were told."""
    key = recipient.key
    items: list[dict[str, Any]] = []
    mine = {fid for fid, now in tonight.items() if key in now.leads}
    quiet = suppressed(session)  # answered "not a concern": not re-alerted until the finding changes
    first_told: list[dict[str, Any]] = []
    for fid in sorted(mine):
        now = tonight[fid]
        sent = told.get((key, fid))
        if is_suppressed(quiet, key, fid, now.fingerprint):
            continue
        if sent is None:
            change = "new"
            first_told.append({"lead_key": key, "finding_id": fid, "fingerprint_sent": now.fingerprint,
                               "first_sent_night": night, "last_sent_night": night, "closed": False})
        elif sent.closed:
            change = "new"
        elif sent.fingerprint_sent != now.fingerprint:
            change = "updated"
        else:
            continue
        if sent is not None:
            sent.fingerprint_sent, sent.last_sent_night, sent.closed, sent.closed_night = (
                now.fingerprint, night, False, None)
        view = now.views.get(key) or ntk.view(now.row, recipient, now.recipients)
        items.append(open_entry(view, change, night, before.get(fid), ntk, recipient,
                                bool(now.row.get("needs_confirmation"))))
    _insert(session, AlertLeadFinding, first_told)
    for (lead_key, fid), sent in told.items():
        if lead_key != key or sent.closed or fid in mine:
            continue
        change = "moved" if fid in tonight else "no_longer_found"
        ledger = known.get(fid)
        sent.closed, sent.closed_night = True, night
        if ledger is None:
            continue
        last = ledger.last_seen if change == "no_longer_found" else sent.last_sent_night
        items.append(closed_entry(fid, ledger.rule, change, before.get(fid) or ledger.display or {}, key, last, ntk))
    return items


def _build_night(session: Session, night_dir: Path, ntk: NeedToKnow, sender: str, night: dt.date,
                 result: DigestResult, enabled_rules: list[str]) -> None:
    config = ntk.leads
    tonight = _tonight(read_findings(night_dir), ntk, night)
    result.findings = len(tonight)
    result.routed = sum(1 for f in tonight.values() if f.leads)
    result.unrouted = result.findings - result.routed
    known, before, per_rule = _ledger_findings(session, tonight, night, result)

    # Per-recipient ledger: what each lead (and the designated professionals, for findings routed to them)
    # has been told.
    told = {(r.lead_key, r.finding_id): r for r in session.scalars(select(AlertLeadFinding))}
    recipients = [ntk.recipient(key) for key in config.leads]
    if any(DESIGNATED_KEY in now.leads for now in tonight.values()) or any(k == DESIGNATED_KEY for k, _ in told):
        recipients.append(designated_recipient(config))
    for recipient in recipients:
        items = _recipient_items(session, recipient, tonight, told, known, before, ntk, night)
        if not items:
            continue
        subject, text, html = render_digest(night, recipient, items, ntk)
        stem = DESIGNATED_FINDINGS_FILE if recipient.key == DESIGNATED_KEY else recipient.key
        msg = _queue(session, night, recipient.key, "digest", recipient.email, sender, subject, text, html,
                     f"{stem}_{night.isoformat()}.eml")
        result.digests_built += 1
        _insert(session, AlertAudit, [
            {"night": night, "message_pk": msg.id, "recipient_key": recipient.key, "recipient": recipient.email,
             "event": "queued", "finding_id": item["reference"], "change": item["change"],
             "reason": f"{item['change']} for lead coverage", "at": utcnow()} for item in items])

    designated = config.designated_professional
    context = summary_context(session, night_dir, night, per_rule, ntk, result,
                              needs_confirmation=sum(1 for f in tonight.values() if f.display["needs_confirmation"]),
                              enabled_rules=enabled_rules)
    msg = _queue(session, night, DESIGNATED_KEY, "summary", designated.email, sender, context["subject"],
                 render("summary.txt.j2", **context), render("summary.html.j2", **context),
                 f"{DESIGNATED_KEY}_{night.isoformat()}.eml")
    session.add(AlertAudit(night=night, message_pk=msg.id, recipient_key=DESIGNATED_KEY, recipient=designated.email,
                           event="queued", reason="daily summary (counts only)", at=utcnow()))
    session.add(AlertNight(night=night, built_at=utcnow(), counts=result.summary()))


def _enabled_rules(config_dir: Path) -> list[str]:
    """The rules configured to run (the summary lists them even with no findings); none when unreadable."""
    from alerts.rules.config import load_rules

    try:
        return list(load_rules(config_dir).enabled())
    except ValueError as exc:
        log.warning("summary: rules.yaml not readable (%s): listing only rules with findings", type(exc).__name__)
        return []


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
    """Deliver (or write) every queued message exactly once; failures stay queued."""
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
                enabled = _enabled_rules(config_dir)
                ntk = NeedToKnow(load_sharing(config_dir, rules=enabled), config,
                                 RecordIndex(read_people(night_dir)), load_settings().case_view_url)
                with gc_paused():  # tens of thousands of entries, rows and views on a first night
                    _build_night(session, night_dir, ntk, settings.sender, extract_date, result, enabled)
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


def night_delivery(state_url: str, night: dt.date) -> dict[str, int]:
    """Whether a night's digests were built, and its messages by delivery status (counts only).

    Args:
        state_url: the state database URL.
        night: the night.

    Returns:
        ``built`` (1 when the night's digests and summary were built), then ``queued``, ``sending``,
        ``sent`` and ``written`` message counts for that night.
    """
    engine = open_state(state_url)
    try:
        with Session(engine) as session:
            built = session.get(AlertNight, night) is not None
            rows = session.execute(select(AlertMessage.status, func.count()).where(AlertMessage.night == night)
                                   .group_by(AlertMessage.status)).all()
    finally:
        engine.dispose()
    counts = {"queued": 0, "sending": 0, "sent": 0, "written": 0} | {str(status): int(n) for status, n in rows}
    return {"built": int(built), **counts}


# What building a night's digests found (recorded in alerts_night when built; a rerun builds nothing).
BUILD_FIGURES = ("findings", "routed", "unrouted", "new", "updated", "no_longer_found", "digests_built")


def night_figures(state_url: str, extract_date: dt.date) -> dict[str, int]:
    """The night's own send figures, whichever run produced them: what its build found and what was delivered.

    A rerun of a night builds nothing (the digests were built once), so its :class:`DigestResult` reads
    zeros; these are the figures the night's ``run_summary.json`` keeps. ``sent`` and ``written`` count
    the night's messages delivered so far (by any run), ``night_still_queued`` those of the night not yet.

    Args:
        state_url: the state database URL.
        extract_date: the night.

    Returns:
        Counts only; empty when the night's digests were never built.
    """
    engine = open_state(state_url)
    try:
        with Session(engine) as session:
            built = session.get(AlertNight, extract_date)
            stored = dict(built.counts) if built is not None else None
    finally:
        engine.dispose()
    if stored is None:
        return {}
    delivery = night_delivery(state_url, extract_date)
    return {**{k: int(stored.get(k, 0) or 0) for k in BUILD_FIGURES}, "sent": delivery["sent"],
            "written": delivery["written"], "night_still_queued": delivery["queued"] + delivery["sending"]}


_DATE_LIKE = re.compile(r"\b(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})\b")
_POSTCODE_LIKE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def mask_error(error: str, limit: int = 2000, keep: tuple[str, ...] = ()) -> str:
    """Mask NHS-number-, date- and postcode-like text in an error message and bound its length.

    Args:
        error: the error text (callers should pass the exception type and message, not data).
        limit: the maximum length kept.
        keep: ISO dates shown as they are (the run's extract date: when the night is, not about whom).
    """
    kept = [k for k in keep if _ISO_DATE.fullmatch(k)]
    text = error
    for i, value in enumerate(kept):
        text = text.replace(value, f"\x00{i}\x00")
    text = redact(text)
    text = _DATE_LIKE.sub("[date]", text)
    text = _POSTCODE_LIKE.sub("[postcode]", text)
    for i, value in enumerate(kept):
        text = text.replace(f"\x00{i}\x00", value)
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
                  error=mask_error(error, keep=(run_date,)), log_url=log_url)
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
