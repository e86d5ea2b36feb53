"""Staff accounts and console sessions: hashed passwords, bearer tokens, roles.

Passwords are hashed with scrypt (memory-hard, in the standard library) and a salt of their own;
a session token is shown once, at login, and only its sha256 is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import Conflict, Forbidden, NotFound, Rejected, Unauthenticated
from bot.live.events import EventHub
from bot.storage.models import Staff, StaffAction, StaffSession, utcnow

logger = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
# scrypt cost: 2**14 rounds, 8 MiB of memory, about 50 ms a check on this machine.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class Role(StrEnum):
    AGENT = "agent"
    # An agent who also edits the knowledge base in the console (an admin may too).
    EDITOR = "editor"
    ADMIN = "admin"


@dataclass(frozen=True)
class StaffMember:
    id: int
    username: str
    name: str
    role: Role
    active: bool

    @classmethod
    def of(cls, row: Staff) -> StaffMember:
        return cls(row.id, row.username, row.name, Role(row.role), row.active)


@dataclass(frozen=True)
class LoggedIn:
    token: str
    member: StaffMember


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, salt, expected = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), expected)


@cache
def _unknown_user_hash() -> str:
    """A hash no password matches, checked for unknown usernames: a log-in then costs the same
    scrypt work whether the account exists or not, so its time gives no account away."""
    return hash_password(secrets.token_urlsafe(32))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_topic(token: str) -> str:
    """Where a staff session's live socket hears that the session has ended (log-out, the
    account deactivated or its password reset): it then closes."""
    return _session_topic(_token_hash(token))


def _session_topic(token_hash: str) -> str:
    return f"staff-session:{token_hash}"


# The event that ends a session's sockets.
SESSION_ENDED = "session_ended"


def record(
    session: Session,
    member: StaffMember,
    action: str,
    conversation_id: str | None = None,
    message_id: int | None = None,
    **details: object,
) -> None:
    """Write a staff action to the record (in the caller's transaction)."""
    session.add(
        StaffAction(
            staff_id=member.id,
            action=action,
            conversation_id=conversation_id,
            message_id=message_id,
            details=details,
        )
    )


# The account a fresh install starts with.
FIRST_ADMIN = "admin"


class StaffService:
    def __init__(self, sessions: sessionmaker[Session], events: EventHub | None = None) -> None:
        self.sessions = sessions
        self.events = events if events is not None else EventHub()

    def create_account(
        self,
        username: str,
        password: str,
        role: Role = Role.AGENT,
        name: str | None = None,
        by: StaffMember | None = None,
    ) -> StaffMember:
        """A new account; ``by`` is the admin creating it (None from the command line)."""
        if by is not None and by.role is not Role.ADMIN:
            raise Forbidden("only an admin can create staff accounts")
        username = username.strip().lower()
        if not username or not username.replace(".", "").replace("-", "").isalnum():
            raise Rejected(f"username {username!r}: use letters, digits, dots and dashes")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Rejected(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        try:
            with self.sessions.begin() as session:
                row = Staff(
                    username=username,
                    name=(name or username).strip(),
                    role=Role(role).value,
                    password_hash=hash_password(password),
                )
                session.add(row)
                session.flush()
                member = StaffMember.of(row)
                if by is not None:
                    record(session, by, "create_account", username=username, role=member.role)
                return member
        except IntegrityError:
            raise Conflict(f"the username {username!r} is taken") from None

    def set_active(self, staff_id: int, active: bool, by: StaffMember) -> StaffMember:
        if by.role is not Role.ADMIN:
            raise Forbidden("only an admin can change staff accounts")
        if staff_id == by.id and not active:
            raise Conflict("you cannot deactivate your own account")
        with self.sessions.begin() as session:
            row = session.get(Staff, staff_id)
            if row is None:
                raise NotFound(f"no staff account {staff_id}")
            row.active = active
            ended = [] if active else _end_sessions(session, staff_id)
            record(session, by, "activate" if active else "deactivate", username=row.username)
            member = StaffMember.of(row)
        self._announce_ended(ended)
        return member

    def set_password(
        self, staff_id: int, password: str, by: StaffMember, current_password: str | None = None
    ) -> StaffMember:
        """Anyone may set their own password, giving the current one (a console left open is
        not enough); an admin may reset anyone else's without it, on record, and that person's
        sessions end: whoever knew the old password is logged out."""
        own = staff_id == by.id
        if by.role is not Role.ADMIN and not own:
            raise Forbidden("only an admin can change another person's password")
        if own and not current_password:
            raise Rejected("to set your own password, give your current one (current_password)")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Rejected(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        with self.sessions.begin() as session:
            row = session.get(Staff, staff_id)
            if row is None:
                raise NotFound(f"no staff account {staff_id}")
            if own and not password_matches(current_password or "", row.password_hash):
                raise Forbidden("the current password is not right")
            row.password_hash = hash_password(password)
            ended = [] if own else _end_sessions(session, staff_id)
            record(session, by, "set_password" if own else "reset_password", username=row.username)
            member = StaffMember.of(row)
        if not own:
            logger.info("%s (admin) reset the password of %s", by.username, member.username)
        self._announce_ended(ended)
        return member

    def _announce_ended(self, token_hashes: list[str]) -> None:
        for token_hash in token_hashes:
            self.events.publish(_session_topic(token_hash), {"type": SESSION_ENDED})

    def ensure_first_admin(self) -> str | None:
        """With no staff account at all, create ``admin`` with a random password and return the
        password (to be shown once); otherwise None. A fresh install can then log in."""
        with self.sessions() as session:
            if session.scalar(select(Staff.id).limit(1)) is not None:
                return None
        password = secrets.token_urlsafe(12)
        try:
            self.create_account(FIRST_ADMIN, password, Role.ADMIN, "Administrator")
        except Conflict:  # another process created it first
            return None
        return password

    def accounts(self, by: StaffMember) -> list[StaffMember]:
        if by.role is not Role.ADMIN:
            raise Forbidden("only an admin can list staff accounts")
        with self.sessions() as session:
            rows = session.scalars(select(Staff).order_by(Staff.username)).all()
            return [StaffMember.of(row) for row in rows]

    def log_in(self, username: str, password: str) -> LoggedIn:
        with self.sessions.begin() as session:
            row = session.scalar(select(Staff).where(Staff.username == username.strip().lower()))
            # The same answer, after the same work, for an unknown user, a deactivated account
            # and a wrong password: neither the answer nor its time tells which accounts exist.
            stored = row.password_hash if row is not None else _unknown_user_hash()
            if not password_matches(password, stored) or row is None or not row.active:
                raise Unauthenticated("wrong username or password")
            token = secrets.token_urlsafe(32)
            session.add(
                StaffSession(
                    token_hash=_token_hash(token),
                    staff_id=row.id,
                    expires_at=utcnow() + SESSION_LIFETIME,
                )
            )
            member = StaffMember.of(row)
            record(session, member, "log_in")
            return LoggedIn(token, member)

    def log_out(self, token: str) -> None:
        """End the session; its live sockets close."""
        with self.sessions.begin() as session:
            session.execute(
                delete(StaffSession).where(StaffSession.token_hash == _token_hash(token))
            )
        self.events.publish(session_topic(token), {"type": SESSION_ENDED})

    def authenticate(self, token: str) -> StaffMember:
        """The member of staff a console token belongs to; Unauthenticated if none or expired."""
        with self.sessions() as session:
            found = session.get(StaffSession, _token_hash(token))
            if found is None or found.expires_at <= utcnow():
                raise Unauthenticated("log in again: the staff token is unknown or has expired")
            row = session.get(Staff, found.staff_id)
            if row is None or not row.active:
                raise Unauthenticated("this staff account is deactivated")
            return StaffMember.of(row)


def _end_sessions(session: Session, staff_id: int) -> list[str]:
    """Delete an account's sessions (in the caller's transaction): their token hashes."""
    ended = list(
        session.scalars(select(StaffSession.token_hash).where(StaffSession.staff_id == staff_id))
    )
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
    return ended
