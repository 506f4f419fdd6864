"""API tokens and one-time password-reset tokens.

A token is shown once, when it is made; the database keeps only its SHA-256 hex digest
(tokens are long random strings, so a plain fast hash is enough: there is nothing to
brute-force). API tokens look like ``slk_<43 url-safe characters>``; the first 12
characters are kept as ``prefix`` so users can tell their tokens apart.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import InvalidInput
from core import audit
from core.orm import ApiToken, PasswordReset, User, utcnow

TOKEN_PREFIX = "slk_"
PREFIX_LENGTH = 12
RESET_HOURS = 24
#: Writing last_used_at on every API call would make every read a write; once a minute is
#: enough to show whether a token is in use.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenError(InvalidInput):
    """A token cannot be created, used or revoked; the message says why."""


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, user: User, name: str = "api", *,
                     actor: User | str | None = None, expires_at: dt.datetime | None = None,
                     ip: str | None = None) -> tuple[ApiToken, str]:
    """Make a new API token for ``user``; return the row and the token text (shown once).

    ``actor`` defaults to the user; an actor other than the user must be an admin (or a
    label such as "cli")."""
    actor = user if actor is None else actor
    if isinstance(actor, User) and actor.id != user.id and not actor.has_role("admin"):
        raise TokenError("Only an admin can make a token for another user.")
    if not user.is_active:
        raise TokenError(f"{user.email} is deactivated, so it cannot get a token.")
    name = (name or "api").strip()[:100] or "api"
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, prefix=text[:PREFIX_LENGTH],
                     token_hash=hash_token(text), expires_at=expires_at)
    session.add(token)
    session.flush()
    audit.record(session, "token_created", actor=actor, target=user.email,
                 detail={"token_id": token.id, "name": name, "prefix": token.prefix}, ip=ip)
    return token, text


def authenticate_token(session: Session, text: str | None) -> User | None:
    """The active user owning the token ``text``, or None when the token is unknown,
    revoked, expired or belongs to a deactivated user."""
    if not text or not text.startswith(TOKEN_PREFIX) or len(text) > 200:
        return None
    token = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(text)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = token.user
    if user is None or not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    return user


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked ones included, so the history shows)."""
    return list(session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session: Session, actor: User | str, token_id: int, *,
                 ip: str | None = None) -> ApiToken:
    """Revoke a token at once. Users revoke their own tokens; admins anyone's."""
    token = session.get(ApiToken, token_id)
    own = isinstance(actor, User) and token is not None and token.user_id == actor.id
    if token is None or not (own or not isinstance(actor, User) or actor.has_role("admin")):
        raise TokenError("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, "token_revoked", actor=actor, target=token.user.email,
                     detail={"token_id": token.id, "prefix": token.prefix}, ip=ip)
    return token


def create_password_reset(session: Session, user: User, *,
                          hours: int = RESET_HOURS) -> tuple[PasswordReset, str]:
    """A one-time reset token for ``user``; return the row and the token text (shown once).
    Earlier unused resets of the user stop working."""
    now = utcnow()
    for earlier in session.scalars(sa.select(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))):
        earlier.used_at = now
    text = secrets.token_urlsafe(32)
    reset = PasswordReset(user_id=user.id, token_hash=hash_token(text),
                          expires_at=now + dt.timedelta(hours=hours))
    session.add(reset)
    session.flush()
    return reset, text


def find_password_reset(session: Session, text: str | None) -> PasswordReset | None:
    """The unused, unexpired reset for ``text`` (whose user is active), or None."""
    if not text or len(text) > 200:
        return None
    reset = session.scalar(sa.select(PasswordReset).where(
        PasswordReset.token_hash == hash_token(text)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        return None
    return reset
