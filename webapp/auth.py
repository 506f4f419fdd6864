"""Sign-in, sign-out, password change, reset links (by an admin or asked for by e-mail),
the account page (password, weekly digest) and the user's own API tokens; and the navbar
of every Flask page (``shell_context``: the dashboard's shell drawn by templates/base.html)."""
from __future__ import annotations

import functools
import logging
import time
from email.message import EmailMessage

from flask import (Blueprint, flash, make_response, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length

from analytics.errors import ShoplensError
from core import mail, notifications, schedules, tokens, users
from core.settings import Settings
from webapp import services
from webapp.security import (Principal, client_ip, current_db_user, db_session, role_required,
                             safe_next)

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class NewPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(), EqualTo("new_password", message="The two passwords differ.")])


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])


class ForgotForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class TokenForm(FlaskForm):
    name = StringField("Name (what the token is for)", validators=[Length(max=100)])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token (buttons that change state)."""


class DigestForm(FlaskForm):
    """The account page's weekly digest switch: "on" or "off" (the button's value)."""
    enabled = StringField("enabled", validators=[AnyOf(("on", "off"))])


# ---------------------------------------------------------------------- the shared shell
#: Flask pages linked from the navbar's Admin menu (the dashboard's ``shell.ADMIN_LINKS``).
ADMIN_LINKS = (("Users", "/admin/users"), ("Settings", "/admin/settings"),
               ("Audit log", "/admin/audit"))


@bp.app_context_processor
def shell_context() -> dict:
    """What base.html's navbar shows, as the dashboard's does: the dashboard pages the
    user's role may open (``shell.visible_pages``, the same rule as the router's), the
    Admin menu for admins, the unread notifications and the data scope. Nothing when
    signed out (the sign-in pages show the brand alone)."""
    if not current_user.is_authenticated:
        return {"shell_pages": [], "shell_admin_links": (), "shell_unread": 0,
                "shell_scope": "", "shell_scope_names": ""}
    from webapp.dashboard import guide, shell  # late: the dashboard imports this module's app
    role = current_user.role
    pages = [(page["name"], page["path"]) for page in shell.visible_pages(role)]
    return {"shell_pages": pages,
            "shell_admin_links": ADMIN_LINKS if role == "admin" else (),
            "shell_unread": _unread_count(),
            "shell_scope": "" if current_user.scope.is_all else str(current_user.scope),
            "shell_scope_names": guide.scope_names(current_user.scope),
            "shell_scope_tip": guide.SCOPE_TIP}


def _unread_count() -> int:
    user = current_db_user()
    if user is None:
        return 0
    try:
        return notifications.unread_count(db_session(), user)
    except ShoplensError as exc:  # the navbar never breaks a page
        log.warning("no unread count for the navbar: %s", exc)
        return 0


def _start_session(user) -> None:
    session.clear()
    login_user(Principal(user))
    session.permanent = True
    session["seen"] = int(time.time())


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    next_page = safe_next(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_page)
    error = None
    if form.validate_on_submit():
        db = db_session()
        try:
            user = users.authenticate(db, form.email.data, form.password.data, ip=client_ip())
        except users.SignInError as failure:
            db.commit()
            error = str(failure)
        else:
            db.commit()
            _start_session(user)
            if user.must_change_password:
                flash("Choose your own password before you continue.", "warning")
                return redirect(url_for("auth.change_password", next=next_page))
            return redirect(next_page)
    elif request.method == "POST":
        error = "Enter your e-mail and password."
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error, next=next_page), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out: a POST carrying the CSRF token (the guard checks it). It ends every session
    of the user on the server (``users.sign_out``), so a copy of this cookie stops working
    too. GET only shows a page with that button: a link or an image on another site cannot
    sign anybody out."""
    if request.method == "GET":
        return render_template("logout.html", form=EmptyForm())
    if current_user.is_authenticated:
        db = db_session()
        users.sign_out(db, current_db_user(), ip=client_ip())
        db.commit()
    logout_user()
    session.clear()
    flash("You are signed out, in every browser where you were signed in.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@role_required("viewer")
def change_password():
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        db = db_session()
        user = current_db_user()
        try:
            users.change_password(db, user, form.current_password.data,
                                  form.new_password.data, ip=client_ip())
        except users.UserError as refusal:
            db.rollback()
            error = str(refusal)
        else:
            db.commit()
            _start_session(user)
            flash("Your password is changed; your other sessions are signed out.", "success")
            return redirect(safe_next(request.args.get("next")))
    elif form.errors:
        error = " ".join(message for messages in form.errors.values() for message in messages)
    return render_template("password.html", form=form, error=error,
                           forced=current_user.must_change_password,
                           digest=_digest_state(), digest_form=DigestForm(formdata=None)), \
        400 if error else 200


def _digest_state() -> str | None:
    """The account page's digest line: "on: every Monday …", "off", or None (never made)."""
    schedule = schedules.digest_of(db_session(), current_db_user())
    if schedule is None or not schedule.is_active:
        return None
    return schedules.describe(schedule)


@bp.route("/account/digest", methods=["POST"])
@role_required("viewer")
def switch_digest():
    """The signed-in user's own weekly digest on or off (``schedules.set_digest``), from
    the account page: viewers cannot open the Reports page, where the other switch is."""
    form = DigestForm()
    if not form.validate_on_submit():
        flash("The digest switch was not understood: reload the page and try again.",
              "warning")
        return redirect(url_for("auth.change_password"))
    db = db_session()
    try:
        schedule = schedules.set_digest(db, current_db_user(), form.enabled.data == "on")
        db.commit()
    except ShoplensError as exc:
        db.rollback()
        flash(f"Not changed: {exc}", "warning")
        return redirect(url_for("auth.change_password"))
    if schedule is not None and schedule.is_active:
        flash(f"Your weekly digest is on: {schedules.describe(schedule)}.", "success")
    else:
        flash("Your weekly digest is off.", "info")
    return redirect(url_for("auth.change_password"))


def reset_link(token: str) -> str:
    """The address of a reset link as e-mailed: PUBLIC_URL + ``/reset/<token>``."""
    return f"{services.settings().public_url}{url_for('auth.reset', token=token)}"


def reset_message(settings: Settings, recipient: str, link: str, *,
                  by_admin: bool) -> EmailMessage:
    """The plain-text e-mail carrying a one-time reset link."""
    why = ("An admin of Shoplens reset the password of your account" if by_admin else
           "Someone, hopefully you, asked to reset the password of your Shoplens account")
    body = "\n".join([
        "Hello,", "",
        f"{why} {recipient}.",
        f"Open this link within {tokens.RESET_HOURS} hours to choose a new password; it "
        "works once:", "",
        link, "",
        "If you did not expect this message, ignore it: your password stays as it is.",
        "", "-- ", "Shoplens"])
    return mail.build_text_message(settings, recipient=recipient,
                                   subject="Set a new Shoplens password", body=body)


def _send_after_response(settings: Settings, message: EmailMessage, user_id: int) -> None:
    """Sends a self-service reset e-mail once the answer is on its way, so the answer's
    timing does not tell whether the address has an account."""
    try:
        where = mail.send_message(settings, message)
    except mail.TRANSIENT_ERRORS as error:
        log.warning("reset e-mail to user %s could not be sent: %s: %s", user_id,
                    type(error).__name__, error)
    else:
        log.info("reset e-mail to user %s sent via %s", user_id, where.split(":")[0])


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    """A signed-out user asks for a reset link by e-mail. The answer is the same whether or
    not the address has an account; requests are throttled and audited (core.users)."""
    form = ForgotForm()
    if not form.validate_on_submit():
        error = "Enter your e-mail address." if request.method == "POST" else None
        return render_template("forgot.html", form=form, error=error, asked_for=None), \
            400 if error else 200
    db = db_session()
    try:
        outcome = users.request_password_reset(db, form.email.data, ip=client_ip())
    except users.ResetThrottled as refusal:
        db.commit()
        return render_template("forgot.html", form=form, error=str(refusal),
                               asked_for=None), 429
    db.commit()
    response = make_response(render_template("forgot.html", form=ForgotForm(formdata=None),
                                             error=None, asked_for=form.email.data))
    if outcome is not None:
        user, secret = outcome
        settings = services.settings()
        message = reset_message(settings, user.email, reset_link(secret), by_admin=False)
        response.call_on_close(functools.partial(_send_after_response, settings, message,
                                                 user.id))
    return response


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """A one-time reset link (made by an admin, or asked for on the sign-in page)."""
    db = db_session()
    if tokens.find_password_reset(db, token) is None:
        return render_template("error.html", status=404,
                               message=users.INVALID_RESET_LINK), 404
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            users.complete_password_reset(db, token, form.new_password.data, ip=client_ip())
        except users.UserError as refusal:
            db.rollback()
            error = str(refusal)
        else:
            db.commit()
            logout_user()
            session.clear()
            flash("Your password is set: sign in with it.", "success")
            return redirect(url_for("auth.login"))
    elif form.errors:
        error = " ".join(message for messages in form.errors.values() for message in messages)
    return render_template("reset.html", form=form, error=error), 400 if error else 200


@bp.route("/account/tokens", methods=["GET", "POST"])
@role_required("viewer")
def api_tokens():
    """The user's API tokens; a new token is shown once, right after it is made."""
    form = TokenForm()
    db = db_session()
    user = current_db_user()
    new_token = None
    if form.validate_on_submit():
        _row, new_token = tokens.create_api_token(db, user, form.name.data or "api",
                                                  ip=client_ip())
        db.commit()
    return render_template("tokens.html", form=form, tokens=tokens.list_tokens(db, user),
                           new_token=new_token, revoke_form=EmptyForm())


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required("viewer")
def revoke_api_token(token_id: int):
    form = EmptyForm()
    if form.validate_on_submit():
        db = db_session()
        try:
            tokens.revoke_token(db, current_db_user(), token_id, ip=client_ip())
        except tokens.TokenError as refusal:
            flash(str(refusal), "danger")
        else:
            db.commit()
            flash("The token is revoked.", "success")
    return redirect(url_for("auth.api_tokens"))
