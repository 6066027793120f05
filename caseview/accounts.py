"""Accounts, passwords (argon2 through pwdlib), sessions and sign-in throttling."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from functools import cache

from pwdlib import PasswordHash
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from caseview.tables import CaseViewLoginAttempt, CaseViewSession, CaseViewUser, utcnow

ROLES = ("lead", "designated", "engineer")
_EMAIL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._%+'-@")


class AccountError(ValueError):
    """An account cannot be created as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    id: int
    email: str
    role: str
    lead_key: str | None


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()  # argon2id


def normalise_email(email: str) -> str:
    """Lower-case, trimmed e-mail address.

    Args:
        email: as typed.
    """
    return email.strip().lower()


def add_user(engine: Engine, email: str, role: str, password: str, lead_key: str | None = None,
             lead_keys: set[str] | None = None, min_length: int = 12) -> User:
    """Create an account (the password is stored as an argon2 hash only).

    Args:
        engine: the state database.
        email: the account's e-mail address (its sign-in name).
        role: ``lead``, ``designated`` or ``engineer``.
        password: the password.
        lead_key: for a lead, the key of the lead in ``leads.yaml`` whose findings they see.
        lead_keys: the keys ``leads.yaml`` defines (checked when given).
        min_length: the shortest password accepted.

    Raises:
        AccountError: bad role, missing or unknown lead key, short password, or the account exists.
    """
    address = normalise_email(email)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or not set(address) <= _EMAIL_CHARS:
        raise AccountError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role == "lead" and not lead_key:
        raise AccountError("a lead account needs --lead KEY (the lead's key in leads.yaml)")
    if role != "lead" and lead_key:
        raise AccountError("--lead is only for lead accounts")
    if lead_key and lead_keys is not None and lead_key not in lead_keys:
        raise AccountError(f"lead {lead_key!r} is not in leads.yaml (known: {', '.join(sorted(lead_keys))})")
    if len(password) < min_length:
        raise AccountError(f"the password must be at least {min_length} characters")
    with Session(engine) as session, session.begin():
        if session.scalar(select(CaseViewUser).where(CaseViewUser.email == address)) is not None:
            raise AccountError(f"an account for {address} already exists")
        user = CaseViewUser(email=address, role=role, lead_key=lead_key, password_hash=_hasher().hash(password),
                            active=True, created_at=utcnow())
        session.add(user)
        session.flush()
        return User(id=user.id, email=address, role=role, lead_key=lead_key)


def throttled(engine: Engine, email: str, client: str, max_failures: int, window: dt.timedelta) -> bool:
    """Whether sign-in is refused for now: too many failures for this address or from this client.

    Args:
        engine: the state database.
        email: the address typed.
        client: the client's address.
        max_failures: failures allowed in the window per address (ten times as many per client).
        window: how far back failures count.
    """
    since = utcnow() - window
    failed = (select(func.count()).select_from(CaseViewLoginAttempt)
              .where(CaseViewLoginAttempt.at >= since, CaseViewLoginAttempt.success.is_(False)))
    with Session(engine) as session:
        by_email = session.scalar(failed.where(CaseViewLoginAttempt.email == normalise_email(email)[:320])) or 0
        by_client = session.scalar(failed.where(CaseViewLoginAttempt.client == client[:64])) or 0
    return by_email >= max_failures or by_client >= 10 * max_failures


def authenticate(engine: Engine, email: str, password: str, client: str) -> User | None:
    """Check a password and record the attempt; the user when it is right.

    Args:
        engine: the state database.
        email: the address typed.
        password: the password typed.
        client: the client's address (for throttling).
    """
    address = normalise_email(email)
    with Session(engine) as session, session.begin():
        row = session.scalar(select(CaseViewUser).where(CaseViewUser.email == address))
        stored = row.password_hash if row is not None and row.active and row.password_hash else None
        # verify against a real hash even for an unknown address, so timing does not reveal accounts
        ok = _hasher().verify(password, stored or _dummy_hash()) and stored is not None
        session.add(CaseViewLoginAttempt(at=utcnow(), email=address[:320], client=client[:64], success=ok))
        if not ok or row is None:
            return None
        return User(id=row.id, email=row.email, role=row.role, lead_key=row.lead_key)


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def user_by_email(engine: Engine, email: str) -> User | None:
    """An active account by e-mail address (for single sign-on).

    Args:
        engine: the state database.
        email: the address the identity provider vouched for.
    """
    with Session(engine) as session:
        row = session.scalar(select(CaseViewUser).where(CaseViewUser.email == normalise_email(email)))
        if row is None or not row.active:
            return None
        return User(id=row.id, email=row.email, role=row.role, lead_key=row.lead_key)


def start_session(engine: Engine, user: User) -> str:
    """Open a server-side session for a signed-in user; returns its id (kept in the signed cookie).

    Args:
        engine: the state database.
        user: the user.
    """
    sid = secrets.token_urlsafe(32)
    with Session(engine) as session, session.begin():
        session.add(CaseViewSession(id=sid, user_id=user.id, created_at=utcnow()))
    return sid


def session_user(engine: Engine, sid: str, max_age: dt.timedelta) -> User | None:
    """The user of a live session (not ended, not older than ``max_age``, account active).

    Args:
        engine: the state database.
        sid: the session id from the cookie.
        max_age: the longest a session lasts.
    """
    with Session(engine) as session:
        row = session.execute(
            select(CaseViewSession, CaseViewUser).join(CaseViewUser, CaseViewUser.id == CaseViewSession.user_id)
            .where(CaseViewSession.id == sid)
        ).first()
        if row is None:
            return None
        sess, user = row
        created = sess.created_at if sess.created_at.tzinfo else sess.created_at.replace(tzinfo=dt.UTC)
        if sess.ended_at is not None or not user.active or utcnow() - created > max_age:
            return None
        return User(id=user.id, email=user.email, role=user.role, lead_key=user.lead_key)


def end_session(engine: Engine, sid: str) -> None:
    """End a session (signing out): its cookie no longer works, even if replayed.

    Args:
        engine: the state database.
        sid: the session id.
    """
    with Session(engine) as session, session.begin():
        row = session.get(CaseViewSession, sid)
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def demo_account(engine: Engine, email: str, role: str, lead_key: str | None = None) -> tuple[User, str]:
    """Create a demo account, or give an existing one a new password; returns it and the password.

    For ``safelink demo`` only: the password is random and printed once.

    Args:
        engine: the state database.
        email: the account's address.
        role: its role.
        lead_key: for a lead, the lead's key.
    """
    password = secrets.token_urlsafe(12)
    address = normalise_email(email)
    with Session(engine) as session, session.begin():
        row = session.scalar(select(CaseViewUser).where(CaseViewUser.email == address))
        if row is None:
            row = CaseViewUser(email=address, role=role, lead_key=lead_key, active=True, created_at=utcnow())
            session.add(row)
        row.role, row.lead_key, row.password_hash = role, lead_key, _hasher().hash(password)
        session.flush()
        return User(id=row.id, email=address, role=role, lead_key=lead_key), password
