"""The case view's web application (FastAPI, server-rendered Jinja2 pages, no JavaScript).

Paths (the interface operators and tests rely on): ``/healthz``, ``/login``, ``/logout``, ``/findings``,
``/findings/{finding_id}``, ``/findings/{finding_id}/response``, ``/review``, ``/children/{person_id}``,
``/runs``, ``/audit``; ``/login/sso`` when single sign-on is configured.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from alerts.leads import DESIGNATED_KEY, LeadsConfig
from alerts.need_to_know import NeedToKnow, RecordIndex, lead_services
from alerts.present import confidence_label
from alerts.responses import DISPOSITIONS, finding_fingerprint, record_response, responses
from caseview import accounts
from caseview.accounts import User
from caseview.chronology import EVERYONE, Reader, chart_svg, chronology
from caseview.finding_view import finding_view
from caseview.nights import child_findings, find_finding, latest_findings, leads_of, read
from caseview.review_queue import KEYS, find_pair, queue, request_review
from caseview.runs import run_health
from caseview.settings import CaseViewSettings, OidcSettings, session_secret
from caseview.tables import CaseViewAudit, CaseViewReviewRequest, utcnow
from ground.settings import DEFAULT_CONFIG_DIR, load_settings
from ground.state import default_state_url, open_state
from report import record_decision

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "safelink_case_view"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NOTE_MAX = 2000


class NeedLogin(Exception):
    """No live session: the browser is sent to ``/login``."""


class Refused(Exception):
    """The page exists but is not for this user (or the request failed a check)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Context:
    """What every request handler needs."""

    output: Path
    engine: Engine
    ntk: NeedToKnow
    leads: LeadsConfig
    settings: CaseViewSettings
    oidc: OidcSettings
    base_url: str
    env: Environment

    def audit(self, user: User, action: str, target: str, outcome: str = "ok", detail: str = "") -> None:
        """Append one audit row.

        Args:
            user: who.
            action: what (``view_finding``, ``view_child``, ``view_review``, ``respond``, ``review_decision``).
            target: the finding id, person id or pair key.
            outcome: ``ok`` or ``denied``.
            detail: a short note without person data.
        """
        with Session(self.engine) as session, session.begin():
            session.add(CaseViewAudit(at=utcnow(), user_email=user.email, role=user.role, action=action,
                                      target=target[:128], outcome=outcome, detail=detail[:200]))


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["signed"] = lambda v: f"{float(v):+.2f}"
    env.filters["pct"] = lambda v: "–" if v is None else f"{100.0 * float(v):.1f}%"
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    return env


def create_app(output: Path, state_url: str | None = None, config_dir: Path = DEFAULT_CONFIG_DIR) -> FastAPI:
    """The case view on one deployment.

    Args:
        output: the deployment's output folder (its night folders).
        state_url: the state database URL (``SAFELINK_STATE_URL``, else ``<output>/state.sqlite``).
        config_dir: the configuration folder (``leads.yaml``).
    """
    output = Path(output)
    base = load_settings()
    url = state_url or base.state_url or default_state_url(output)
    settings = CaseViewSettings()
    ntk = NeedToKnow.load(config_dir, None, "")
    ctx = Context(output=output, engine=open_state(url), ntk=ntk, leads=ntk.leads, settings=settings,
                  oidc=OidcSettings(), base_url=base.case_view_url.rstrip("/"), env=_env())
    app = FastAPI(title="Safeguarding linkage case view", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.add_middleware(SessionMiddleware, secret_key=session_secret(settings, output), session_cookie=SESSION_COOKIE,
                       max_age=settings.session_hours * 3600, same_site="lax",
                       https_only=ctx.base_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(NeedLogin)
    async def _need_login(request: Request, _exc: NeedLogin) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return _page(ctx, request, "error.html.j2", None, status=exc.status, message=exc.message)

    _routes(app, ctx)
    from caseview.sso import add_sso_routes

    add_sso_routes(app, ctx)
    return app


# ---------------------------------------------------------------------------------------------
# helpers


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use).

    Args:
        request: the request.
    """
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: str) -> None:
    """Refuse a form whose ``csrf_token`` is not the session's.

    Args:
        request: the request.
        sent: the form's ``csrf_token``.
    """
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token or not hmac.compare_digest(token, sent or ""):
        raise Refused(403, "This form was not sent by this site or has expired (CSRF check failed). "
                           "Go back, reload the page and try again.")


def current_user(ctx: Context, request: Request) -> User:
    """The signed-in user.

    Args:
        ctx: the application context.
        request: the request.

    Raises:
        NeedLogin: no live session.
    """
    sid = request.session.get("sid")
    user = accounts.session_user(ctx.engine, sid, dt.timedelta(hours=ctx.settings.session_hours)) if sid else None
    if user is None:
        request.session.pop("sid", None)
        raise NeedLogin()
    return user


def require(user: User, *roles: str) -> None:
    """Refuse a user whose role is not one of ``roles``.

    Args:
        user: the user.
        *roles: the roles allowed.
    """
    if user.role not in roles:
        raise Refused(403, "This page is not available to your role.")


def sign_in(ctx: Context, request: Request, user: User) -> None:
    """Start a fresh session for a user (a new session id and CSRF token: no fixation).

    Args:
        ctx: the application context.
        request: the request.
        user: the user.
    """
    request.session.clear()
    request.session["sid"] = accounts.start_session(ctx.engine, user)
    request.session["csrf"] = secrets.token_urlsafe(32)


def reader_key(user: User) -> str:
    """The recipient a user reads findings as: their lead key, or the designated professionals.

    Args:
        user: a lead or designated user.
    """
    return user.lead_key if user.role == "lead" and user.lead_key else DESIGNATED_KEY


def home(user: User) -> str:
    """Where a user lands after signing in.

    Args:
        user: the user.
    """
    return "/runs" if user.role == "engineer" else "/findings"


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after signing in (never another site).

    Args:
        target: the ``next`` parameter.
    """
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _page(ctx: Context, request: Request, template: str, user: User | None, status: int = 200,
          **values: Any) -> HTMLResponse:
    flash = request.session.pop("flash", None)
    html = ctx.env.get_template(template).render(
        user=user, csrf=csrf_token(request), flash=flash, **values)
    return HTMLResponse(html, status_code=status)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _may_see(ctx: Context, user: User, row: dict[str, Any]) -> bool:
    if user.role == "designated":
        return True
    return user.role == "lead" and user.lead_key in leads_of(row, ctx.leads)


def _reader(ctx: Context, user: User) -> Reader:
    """What a user may see on a chronology: everything for the designated professionals; for a lead, the
    services whose involvement is not sensitive or is theirs, and the findings routed to them."""
    if user.role == "designated" or not user.lead_key:
        return EVERYONE
    own = lead_services(ctx.leads.leads[user.lead_key])
    services = ctx.ntk.sharing.services

    def service(source: str) -> bool:
        info = services.get(source)
        return source in own or info is None or not info.involvement_sensitive

    return Reader(service=service, finding=lambda row: _may_see(ctx, user, row))


def _responded(user: User, answers: list[Any], fingerprint: str) -> Any | None:
    mine = [a for a in answers if a.fingerprint == fingerprint and (
        (user.role == "lead" and a.lead_key == user.lead_key) or (user.role == "designated"
                                                                   and a.responder_role == "designated"))]
    return mine[-1] if mine else None


# ---------------------------------------------------------------------------------------------
# routes


def _routes(app: FastAPI, ctx: Context) -> None:
    """Register every page."""
    for register in (_session_routes, _finding_routes, _review_routes, _person_routes):
        register(app, ctx)


def _session_routes(app: FastAPI, ctx: Context) -> None:
    """Health, sign-in and sign-out."""

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "state database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/")
    def index(request: Request) -> Response:
        return RedirectResponse(home(current_user(ctx, request)), status_code=303)

    @app.get("/login")
    def login_form(request: Request, next: str | None = None) -> Response:
        return _page(ctx, request, "login.html.j2", None, next=safe_next(next) or "", error="",
                     sso=ctx.oidc.label if ctx.oidc.enabled else "")

    @app.post("/login")
    def login(request: Request, email: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
              next: str = Form("")) -> Response:
        check_csrf(request, csrf_token)
        window = dt.timedelta(minutes=ctx.settings.login_window_minutes)
        sso = ctx.oidc.label if ctx.oidc.enabled else ""
        if accounts.throttled(ctx.engine, email, _client(request), ctx.settings.login_max_failures, window):
            return _page(ctx, request, "login.html.j2", None, status=429, next=safe_next(next) or "", sso=sso,
                         error=f"Too many failed sign-ins. Try again in {ctx.settings.login_window_minutes} minutes.")
        user = accounts.authenticate(ctx.engine, email, password, _client(request))
        if user is None:
            return _page(ctx, request, "login.html.j2", None, status=401, next=safe_next(next) or "", sso=sso,
                         error="Wrong e-mail address or password.")
        sign_in(ctx, request, user)
        return RedirectResponse(safe_next(next) or home(user), status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        check_csrf(request, csrf_token)
        sid = request.session.get("sid")
        if sid:
            accounts.end_session(ctx.engine, sid)
        request.session.clear()
        request.session["flash"] = "You have signed out."
        return RedirectResponse("/login", status_code=303)


def _finding_routes(app: FastAPI, ctx: Context) -> None:
    """The inbox, a finding and a response to it."""

    @app.get("/findings")
    def inbox(request: Request) -> Response:
        user = current_user(ctx, request)
        require(user, "lead", "designated")
        night, frame = latest_findings(ctx.output)
        groups: dict[str, list[dict[str, Any]]] = {"new": [], "updated": [], "open": [], "responded": []}
        if frame is not None and night is not None:
            rows = [r for r in frame.iter_rows(named=True) if _may_see(ctx, user, r)]
            answers: dict[str, list[Any]] = {}
            for a in responses(ctx.engine, [r["finding_id"] for r in rows]):
                answers.setdefault(a.finding_id, []).append(a)
            people = RecordIndex(read(ctx.output / night.isoformat() / "landing" / "people.parquet"))
            labels = ctx.ntk.rule_labels()
            pres = ctx.leads.presentation
            for r in rows:
                done = _responded(user, answers.get(r["finding_id"], []), finding_fingerprint(r))
                status = str(r.get("status") or "")
                group = "responded" if done else status if status in ("new", "updated") else "open"
                child = people.person("Child", r.get("child_records") or [], pres.nhs_visible_digits)
                groups[group].append({
                    "finding_id": r["finding_id"], "rule": labels.get(r["rule"], r["rule"]),
                    "child": child.initials if r.get("child_records") else "", "first_seen": str(r.get("first_seen")),
                    "confidence": confidence_label(r.get("link_confidence")),
                    "needs_confirmation": bool(r.get("needs_confirmation")),
                    "response": done.label if done else ""})
        return _page(ctx, request, "findings.html.j2", user, night=night, groups=groups)

    @app.get("/findings/{finding_id}")
    def finding_page(request: Request, finding_id: str) -> Response:
        user = current_user(ctx, request)
        require(user, "lead", "designated")
        found = find_finding(ctx.output, finding_id)
        if found is None:
            raise Refused(404, "No such finding.")
        night, folder, row = found
        if not _may_see(ctx, user, row):
            ctx.audit(user, "view_finding", finding_id, outcome="denied")
            raise Refused(403, "This finding is not routed to you.")
        ctx.audit(user, "view_finding", finding_id)
        view = finding_view(row, night, folder, ctx.ntk, reader_key(user))
        answers = responses(ctx.engine, [finding_id])
        return _page(ctx, request, "finding.html.j2", user, f=view, answers=answers, dispositions=DISPOSITIONS,
                     may_see_child=bool(row.get("child_person_id")))

    @app.post("/findings/{finding_id}/response")
    def respond(request: Request, finding_id: str, disposition: str = Form(""), note: str = Form(""),
                csrf_token: str = Form("")) -> Response:
        user = current_user(ctx, request)
        check_csrf(request, csrf_token)
        require(user, "lead", "designated")
        found = find_finding(ctx.output, finding_id)
        if found is None:
            raise Refused(404, "No such finding.")
        night, folder, row = found
        if not _may_see(ctx, user, row):
            ctx.audit(user, "respond", finding_id, outcome="denied")
            raise Refused(403, "This finding is not routed to you.")
        if disposition not in DISPOSITIONS:
            raise Refused(400, f"Choose one of: {', '.join(DISPOSITIONS.values())}.")
        if len(note) > NOTE_MAX:
            raise Refused(400, f"The note is longer than {NOTE_MAX} characters.")
        record_response(ctx.engine, finding_id=finding_id, rule=str(row["rule"]), night=night,
                        fingerprint=finding_fingerprint(row), link_confidence=row.get("link_confidence"),
                        responder=user.email, responder_role=user.role,
                        lead_key=user.lead_key if user.role == "lead" else None, disposition=disposition,
                        note=note.strip())
        queued = request_review(ctx.engine, row, folder, user.email) if disposition == "wrong_link" else 0
        ctx.audit(user, "respond", finding_id, detail=f"{disposition}; {queued} pairs to review")
        message = f"Response recorded: {DISPOSITIONS[disposition]}."
        if disposition == "wrong_link":
            message += (f" {queued} linked record pair(s) behind this finding are now in the review queue."
                        if queued else " No record pair joined these records (the link is a mention): the "
                        "designated professional sees your response in the report.")
        request.session["flash"] = message
        return RedirectResponse(f"/findings/{quote(finding_id, safe='')}", status_code=303)


def _review_routes(app: FastAPI, ctx: Context) -> None:
    """The review queue and its decisions."""

    @app.get("/review")
    def review_page(request: Request, blind: int = 0) -> Response:
        user = current_user(ctx, request)
        require(user, "designated")
        ctx.audit(user, "view_review", "review queue", detail="blind" if blind else "")
        pairs = queue(ctx.engine, ctx.output, ctx.ntk.sharing)
        return _page(ctx, request, "review.html.j2", user, q=pairs, blind=bool(blind))

    @app.post("/review/decision")
    def review_decision(request: Request, pair_key: str = Form(""), decision: str = Form(""),
                        csrf_token: str = Form(""), blind: int = Form(0)) -> Response:
        user = current_user(ctx, request)
        check_csrf(request, csrf_token)
        require(user, "designated")
        if decision not in ("match", "no_match", "unsure"):
            raise Refused(400, "Choose match, no match or unsure.")
        found = find_pair(ctx.output, pair_key)
        if found is not None:
            night, pair = found
            ids = tuple(str(pair[k]) for k in KEYS)
            weight, probability = pair.get("weight"), pair.get("match_probability")
        else:
            with Session(ctx.engine) as session:
                req = session.scalars(select(CaseViewReviewRequest).where(
                    CaseViewReviewRequest.pair_key == pair_key).order_by(CaseViewReviewRequest.id.desc())).first()
            if req is None:
                raise Refused(404, "No such pair in the review queue.")
            night, ids = None, (req.source_l, req.record_id_l, req.source_r, req.record_id_r)
            weight, probability = req.weight, None
        record_decision(ctx.engine, (ids[0], ids[1], ids[2], ids[3]), decision, user.email, weight=weight,
                        match_probability=probability, extract_date=night, source="case view")
        ctx.audit(user, "review_decision", pair_key, detail=f"{decision}{' (blind)' if blind else ''}")
        request.session["flash"] = "Decision recorded; the next night's linkage applies it."
        return RedirectResponse("/review?blind=1" if blind else "/review", status_code=303)


def _person_routes(app: FastAPI, ctx: Context) -> None:
    """Chronologies, run health and the audit."""

    @app.get("/children/{person_id}")
    def child_page(request: Request, person_id: str) -> Response:
        user = current_user(ctx, request)
        require(user, "lead", "designated")
        found = child_findings(ctx.output, person_id)
        if user.role == "lead" and not any(_may_see(ctx, user, row) for _, row in found):
            ctx.audit(user, "view_child", person_id, outcome="denied")
            raise Refused(403, "No finding about this child is routed to you.")
        answers: dict[str, list[Any]] = {}
        for a in responses(ctx.engine, sorted({row["finding_id"] for _, row in found})):
            answers.setdefault(a.finding_id, []).append(a)
        chron = chronology(ctx.output, person_id, answers, ctx.ntk, _reader(ctx, user))
        if chron is None:
            raise Refused(404, "No such person.")
        ctx.audit(user, "view_child", person_id)
        for f in chron["findings"]:
            f["responses"] = answers.get(f["finding_id"], [])
        return _page(ctx, request, "child.html.j2", user, c=chron, chart=chart_svg(chron))

    @app.get("/runs")
    def runs_page(request: Request) -> Response:
        user = current_user(ctx, request)
        require(user, "engineer", "designated")
        return _page(ctx, request, "runs.html.j2", user, runs=run_health(ctx.engine, ctx.output))

    @app.get("/audit")
    def audit_page(request: Request, target: str = "") -> Response:
        user = current_user(ctx, request)
        require(user, "designated")
        query = select(CaseViewAudit).order_by(CaseViewAudit.id.desc()).limit(500)
        if target:
            query = query.where(CaseViewAudit.target == target)
        with Session(ctx.engine) as session:
            rows = session.scalars(query).all()
            session.expunge_all()
        return _page(ctx, request, "audit.html.j2", user, rows=rows, target=target)
