"""Staff accounts and console sessions: hashed passwords, bearer tokens, roles.

Passwords are hashed with scrypt (memory-hard, in the standard library) and a salt of their own;
a session token is shown once, at login, and only its sha256 is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import Conflict, Forbidden, NotFound, Rejected, Unauthenticated
from bot.storage.models import Staff, StaffAction, StaffSession, utcnow

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
# scrypt cost: 2**14 rounds, 8 MiB of memory, about 50 ms a check on this machine.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class Role(StrEnum):
    AGENT = "agent"
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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

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
            if not active:
                session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
            record(session, by, "activate" if active else "deactivate", username=row.username)
            return StaffMember.of(row)

    def set_password(self, staff_id: int, password: str, by: StaffMember) -> StaffMember:
        """An admin may set anyone's password, anyone their own. Another person's sessions end:
        whoever knew the old password is logged out."""
        if by.role is not Role.ADMIN and staff_id != by.id:
            raise Forbidden("only an admin can change another person's password")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Rejected(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        with self.sessions.begin() as session:
            row = session.get(Staff, staff_id)
            if row is None:
                raise NotFound(f"no staff account {staff_id}")
            row.password_hash = hash_password(password)
            if staff_id != by.id:
                session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
            record(session, by, "set_password", username=row.username)
            return StaffMember.of(row)

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
            # The same answer for an unknown user and a wrong password: no account probing.
            if row is None or not row.active or not password_matches(password, row.password_hash):
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
        with self.sessions.begin() as session:
            session.execute(
                delete(StaffSession).where(StaffSession.token_hash == _token_hash(token))
            )

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
