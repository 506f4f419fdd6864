"""Admin pages: invite, change role and scope, deactivate, reset, last admin, audit log."""
from __future__ import annotations

import re

import sqlalchemy as sa

from core import db, passwords, users
from core.orm import AuditEvent, PasswordReset
from tests.webapp.conftest import (PASSWORD, csrf_token, new_user, outbox_messages,
                                   reset_link_in, sign_in, use_reset_link_once)


def _user_id(app, email: str) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return users.get_user(session, email).id


def _get(app, email: str):
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        user = users.get_user(session, email)
        session.expunge(user)
        return user


def test_user_list_shows_roles_and_scopes(signed_in):
    page = signed_in("admin@example.com").get("/admin/users")
    assert page.status_code == 200
    assert "gb@example.com" in page.text and "GB" in page.text and "all data" in page.text


def test_invite_with_scope_by_country_names(app, signed_in, client):
    admin = signed_in("admin@example.com")
    token = csrf_token(admin, "/admin/users/new")
    page = admin.post("/admin/users/new", data={
        "email": "Invited@Example.com", "role": "analyst", "countries": "France, EIRE",
        "csrf_token": token})
    assert page.status_code == 200
    one_time = re.search(r"<code>([^<]+)</code>", page.text).group(1)
    invited = _get(app, "invited@example.com")
    assert invited.role == "analyst" and invited.countries == ("FR", "IE")
    assert invited.must_change_password
    assert passwords.verify_password(invited.password_hash, one_time)
    bad = admin.post("/admin/users/new", data={
        "email": "x@example.com", "role": "viewer", "countries": "Atlantis",
        "csrf_token": token})
    assert bad.status_code == 400 and "Unknown country" in bad.text


def test_edit_role_and_scope_ends_sessions(app, signed_in):
    new_user(app, "edited@example.com", "viewer", "GB")
    edited = signed_in("edited@example.com")
    assert edited.get("/api/v1/me").json["scope"] == "GB"
    admin = signed_in("admin@example.com")
    user_id = _user_id(app, "edited@example.com")
    token = csrf_token(admin, f"/admin/users/{user_id}")
    response = admin.post(f"/admin/users/{user_id}", data={
        "role": "analyst", "countries": "DE,fr", "is_active": "y", "name": "Ed",
        "csrf_token": token})
    assert response.status_code == 302
    user = _get(app, "edited@example.com")
    assert user.role == "analyst" and user.countries == ("DE", "FR") and user.name == "Ed"
    assert edited.get("/api/v1/me").status_code == 401
    again = signed_in("edited@example.com")
    assert again.get("/api/v1/me").json["scope"] == "DE, FR"


def test_deactivate_from_the_admin_page(app, signed_in):
    new_user(app, "gone@example.com", "viewer")
    gone = signed_in("gone@example.com")
    admin = signed_in("admin@example.com")
    user_id = _user_id(app, "gone@example.com")
    token = csrf_token(admin, f"/admin/users/{user_id}")
    admin.post(f"/admin/users/{user_id}/deactivate", data={"csrf_token": token})
    assert not _get(app, "gone@example.com").is_active
    assert gone.get("/api/v1/me").status_code == 401
    assert sign_in(gone, "gone@example.com").status_code == 401


def test_last_admin_cannot_demote_or_deactivate_themselves(app, signed_in):
    admin = signed_in("admin@example.com")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        assert users.active_admin_count(session) == 1
    user_id = _user_id(app, "admin@example.com")
    token = csrf_token(admin, f"/admin/users/{user_id}")
    response = admin.post(f"/admin/users/{user_id}", data={
        "role": "viewer", "countries": "", "is_active": "y", "csrf_token": token})
    assert response.status_code == 400 and "last active admin" in response.text
    response = admin.post(f"/admin/users/{user_id}/deactivate", data={"csrf_token": token},
                          follow_redirects=True)
    assert "last active admin" in response.text
    assert _get(app, "admin@example.com").role == "admin"
    assert _get(app, "admin@example.com").is_active


def test_reset_by_one_time_password_and_by_link(app, signed_in, client):
    new_user(app, "reset-me@example.com", "viewer")
    admin = signed_in("admin@example.com")
    user_id = _user_id(app, "reset-me@example.com")
    token = csrf_token(admin, f"/admin/users/{user_id}")
    page = admin.post(f"/admin/users/{user_id}/reset", data={"method": "password",
                                                             "csrf_token": token})
    one_time = re.search(r"<code>([^<]+)</code>", page.text).group(1)
    assert sign_in(client, "reset-me@example.com", PASSWORD).status_code == 401
    assert sign_in(client, "reset-me@example.com", one_time).headers["Location"].startswith(
        "/account/password")
    page = admin.post(f"/admin/users/{user_id}/reset", data={"method": "link",
                                                             "csrf_token": token})
    link = re.search(r"<code>([^<]+)</code>", page.text).group(1)
    assert link.startswith(app.extensions["shoplens.settings"].public_url + "/reset/")
    assert client.get(link.split("8050", 1)[-1]).status_code == 200


def test_reset_link_e_mailed_by_an_admin_works_once(app, signed_in, client):
    new_user(app, "mailed@example.com", "viewer")
    admin = signed_in("admin@example.com")
    user_id = _user_id(app, "mailed@example.com")
    token = csrf_token(admin, f"/admin/users/{user_id}")
    page = admin.post(f"/admin/users/{user_id}/reset", data={"method": "email",
                                                             "csrf_token": token},
                      follow_redirects=True)
    assert "is e-mailed to mailed@example.com" in page.text
    assert "/reset/" not in page.text  # the admin never sees the link
    [message] = outbox_messages(app, "mailed@example.com")
    assert "An admin of Shoplens reset the password" in message.get_content()
    use_reset_link_once(client, reset_link_in(app, message), "a link from the admin")
    assert sign_in(client, "mailed@example.com", "a link from the admin").status_code == 302


def test_reset_link_is_withdrawn_when_the_mail_server_is_down(app, signed_in, monkeypatch):
    from tests.workers.support import free_port
    new_user(app, "unlucky@example.com", "viewer")
    down = app.extensions["shoplens.settings"].with_overrides(
        smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none", smtp_timeout=2)
    monkeypatch.setitem(app.extensions, "shoplens.settings", down)
    admin = signed_in("admin@example.com")
    user_id = _user_id(app, "unlucky@example.com")
    token = csrf_token(admin, f"/admin/users/{user_id}")
    page = admin.post(f"/admin/users/{user_id}/reset", data={"method": "email",
                                                             "csrf_token": token},
                      follow_redirects=True)
    assert "could not be sent" in page.text and "the link is withdrawn" in page.text
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        user = users.get_user(session, "unlucky@example.com")
        resets = session.scalars(sa.select(PasswordReset).where(
            PasswordReset.user_id == user.id)).all()
        assert len(resets) == 1 and resets[0].used_at is not None
        failures = session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "password_reset_mail_failed",
            AuditEvent.target == "unlucky@example.com")).all()
        assert len(failures) == 1 and "ConnectionRefusedError" in failures[0].detail["error"]


def test_audit_log_is_filterable(app, signed_in):
    sign_in(app.test_client(), "viewer@example.com", "a wrong password")
    admin = signed_in("admin@example.com")
    page = admin.get("/admin/audit", query_string={"action": "login_failed"})
    assert page.status_code == 200
    assert "viewer@example.com" in page.text and "wrong password" in page.text
    assert "<td>login_failed</td>" in page.text and "<td>login</td>" not in page.text
    page = admin.get("/admin/audit", query_string={"actor": "nobody-at-all"})
    assert "No events match" in page.text
    assert admin.get("/admin/audit", query_string={"start": "yesterday"}).status_code == 400


def test_a_scoped_admin_cannot_remove_their_own_scope(app, signed_in):
    new_user(app, "scoped-admin@example.com", "admin", "GB")
    scoped = signed_in("scoped-admin@example.com")
    user_id = _user_id(app, "scoped-admin@example.com")
    token = csrf_token(scoped, f"/admin/users/{user_id}")
    for countries in ("", "GB, France"):
        response = scoped.post(f"/admin/users/{user_id}", data={
            "role": "admin", "countries": countries, "is_active": "y", "csrf_token": token})
        assert response.status_code == 400 and "data scope" in response.text, countries
        assert _get(app, "scoped-admin@example.com").countries == ("GB",)
    # nor by inviting an account with all data for themselves
    token = csrf_token(scoped, "/admin/users/new")
    response = scoped.post("/admin/users/new", data={
        "email": "scoped-alias@example.com", "role": "admin", "countries": "",
        "csrf_token": token})
    assert response.status_code == 400 and "data scope" in response.text
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        assert users.find_user(session, "scoped-alias@example.com") is None
    assert scoped.get("/api/v1/me").json["scope"] == "GB"
