"""Domain errors. Services raise these; the API turns each kind into one HTTP status."""

from __future__ import annotations

from retrieval.errors import CxagentError


class ServiceError(CxagentError):
    """Base of the errors a caller can act on; ``str(error)`` says what was wrong."""


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Rejected(ServiceError):
    """The request is well-formed but its content is not allowed (empty or over-long text, …)."""


class Conflict(ServiceError):
    """The request does not fit the current state (taking over a conversation nobody waits on)."""


class Unauthenticated(ServiceError):
    """No valid credentials: a wrong password, or an unknown or expired staff token."""


class Unavailable(ServiceError):
    """Something the request needs is not there now (no job queue configured, Redis down)."""
