"""API tokens: shown once, stored as SHA-256, revocable, dead with their user."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from core import tokens, users
from core.orm import ApiToken, utcnow


pytestmark = pytest.mark.usefixtures("cheap_hashing")


def test_token_is_stored_hashed_and_authenticates(session):
    user, _ = users.create_user(session, "cli", "api@example.com", role="analyst")
    row, text = tokens.create_api_token(session, user, "ci")
    assert text.startswith("slk_") and len(text) > 40
    assert row.token_hash == hashlib.sha256(text.encode()).hexdigest()
    assert text not in {row.prefix, row.token_hash} and text.startswith(row.prefix)
    assert tokens.authenticate_token(session, text) is user
    assert row.last_used_at is not None
    assert tokens.authenticate_token(session, text + "x") is None
    assert tokens.authenticate_token(session, "Bearer " + text) is None
    assert tokens.authenticate_token(session, None) is None


def test_revoked_expired_and_deactivated_tokens_fail(session):
    user, _ = users.create_user(session, "cli", "r@example.com")
    other, _ = users.create_user(session, "cli", "o@example.com")
    revoked, revoked_text = tokens.create_api_token(session, user)
    expired, expired_text = tokens.create_api_token(
        session, user, expires_at=utcnow() - dt.timedelta(seconds=1))
    live, live_text = tokens.create_api_token(session, user)
    with pytest.raises(tokens.TokenError):
        tokens.revoke_token(session, other, revoked.id)
    tokens.revoke_token(session, user, revoked.id)
    assert tokens.authenticate_token(session, revoked_text) is None
    assert tokens.authenticate_token(session, expired_text) is None
    assert tokens.authenticate_token(session, live_text) is user
    users.deactivate_user(session, "cli", user)
    assert tokens.authenticate_token(session, live_text) is None
    with pytest.raises(tokens.TokenError, match="deactivated"):
        tokens.create_api_token(session, user)
    assert len(tokens.list_tokens(session, user)) == 3


def test_only_admin_makes_tokens_for_others(session):
    user, _ = users.create_user(session, "cli", "u@example.com")
    other, _ = users.create_user(session, "cli", "w@example.com")
    with pytest.raises(tokens.TokenError):
        tokens.create_api_token(session, user, actor=other)
    admin, _ = users.create_user(session, "cli", "boss@example.com", role="admin")
    tokens.create_api_token(session, user, actor=admin)
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1


def test_password_reset_token_is_one_time_and_expires(session):
    user, _ = users.create_user(session, "cli", "reset@example.com")
    first, first_text = tokens.create_password_reset(session, user)
    second, second_text = tokens.create_password_reset(session, user)
    assert tokens.find_password_reset(session, first_text) is None, "superseded"
    assert tokens.find_password_reset(session, second_text) is second
    second.expires_at = utcnow() - dt.timedelta(seconds=1)
    assert tokens.find_password_reset(session, second_text) is None
