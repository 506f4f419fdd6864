"""Admin pages (server-rendered): users, roles, data scopes, password resets, the
installation's settings (its locale), the audit log."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from core import audit, installation, mail, tokens, users
from core.formatting import DATE_FORMATS, NUMBER_STYLES, LocaleError
from core.orm import ROLES, AuditEvent, User, utcnow
from webapp import services
from webapp.auth import EmptyForm, reset_link, reset_message
from webapp.security import client_ip, current_db_user, db_session, role_required

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE_SIZE = 100
ROLE_CHOICES = [(role, role) for role in ROLES]


class UserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer")
    countries = StringField("Countries (ISO codes or names as in the data, comma-separated; "
                            "empty = all data)", validators=[Optional(), Length(max=2000)])


class EditUserForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    countries = StringField("Countries (ISO codes or names as in the data, comma-separated; "
                            "empty = all data)", validators=[Optional(), Length(max=2000)])
    is_active = BooleanField("Active")


class ResetForm(FlaskForm):
    method = RadioField("Reset by", choices=[
        ("password", "a one-time password"),
        ("link", "a one-time reset link (shown to you)"),
        ("email", "a one-time reset link e-mailed to the user")], default="password")


_DEFAULT = [("", "(default)")]


class LocaleForm(FlaskForm):
    currency = StringField("Currency (ISO code such as GBP, USD, EUR; empty: the data's own, "
                           "else the CURRENCY default)", validators=[Optional(), Length(max=10)])
    number_style = SelectField("Number style", choices=_DEFAULT + [
        (style, style) for style in NUMBER_STYLES])
    date_format = SelectField("Date format", choices=_DEFAULT + [
        (name, f"{example} ({name})") for name, example in DATE_FORMATS.items()])
    timezone = StringField("The data's time zone (IANA name such as Europe/London)",
                           validators=[Optional(), Length(max=64)])


def _user_or_404(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/")
@role_required("admin")
def index():
    return redirect(url_for("admin.user_list"))


@bp.route("/users")
@role_required("admin")
def user_list():
    db = db_session()
    return render_template("admin/users.html", users=users.list_users(db),
                           active_admins=users.active_admin_count(db))


@bp.route("/users/new", methods=["GET", "POST"])
@role_required("admin")
def user_create():
    form = UserForm()
    error = None
    if form.validate_on_submit():
        db = db_session()
        try:
            user, generated = users.create_user(
                db, current_db_user(), form.email.data, role=form.role.data,
                countries=form.countries.data, name=form.name.data, ip=client_ip())
        except users.UserError as refusal:
            db.rollback()
            error = str(refusal)
        else:
            db.commit()
            return render_template("admin/secret.html", user=user, password=generated,
                                   link=None, what="created")
    return render_template("admin/user_new.html", form=form, error=error), \
        400 if error else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user_edit(user_id: int):
    db = db_session()
    user = _user_or_404(user_id)
    form = EditUserForm(obj=None if request.method == "POST" else _edit_defaults(user))
    error = None
    if form.validate_on_submit():
        try:
            users.update_user(db, current_db_user(), user, role=form.role.data,
                              countries=form.countries.data, name=form.name.data,
                              is_active=form.is_active.data, ip=client_ip())
        except users.UserError as refusal:
            db.rollback()
            error = str(refusal)
        else:
            db.commit()
            flash(f"{user.email} is updated.", "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_edit.html", form=form, user=user, error=error,
                           reset_form=ResetForm(), deactivate_form=EmptyForm()), \
        400 if error else 200


def _edit_defaults(user: User):
    class Defaults:
        name = user.name
        role = user.role
        countries = ", ".join(user.countries) if user.countries is not None else ""
        is_active = user.is_active
    return Defaults


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@role_required("admin")
def user_deactivate(user_id: int):
    form = EmptyForm()
    db = db_session()
    user = _user_or_404(user_id)
    if form.validate_on_submit():
        try:
            users.deactivate_user(db, current_db_user(), user, ip=client_ip())
        except users.UserError as refusal:
            db.rollback()
            flash(str(refusal), "danger")
        else:
            db.commit()
            flash(f"{user.email} is deactivated; their sessions and tokens stopped working.",
                  "success")
    return redirect(url_for("admin.user_list"))


@bp.route("/users/<int:user_id>/reset", methods=["POST"])
@role_required("admin")
def user_reset(user_id: int):
    form = ResetForm()
    db = db_session()
    user = _user_or_404(user_id)
    if not form.validate_on_submit():
        abort(400)
    method = form.method.data
    link = method in ("link", "email")
    try:
        secret = users.reset_password(db, current_db_user(), user, link=link,
                                      emailed=method == "email", ip=client_ip())
    except users.UserError as refusal:
        db.rollback()
        flash(str(refusal), "danger")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    db.commit()
    if method == "email":
        _email_reset_link(user, secret)
        return redirect(url_for("admin.user_edit", user_id=user.id))
    if link:
        return render_template("admin/secret.html", user=user, password=None,
                               link=reset_link(secret), what="reset")
    return render_template("admin/secret.html", user=user, password=secret, link=None,
                           what="reset")


def _email_reset_link(user: User, secret: str) -> None:
    """Send the reset link to the user; when the mail server refuses, withdraw the link
    (nobody has it) and tell the admin. The reset is committed first, so a slow mail server
    never holds a database transaction open."""
    settings = services.settings()
    message = reset_message(settings, user.email, reset_link(secret), by_admin=True)
    try:
        mail.send_message(settings, message)
    except mail.TRANSIENT_ERRORS as error:
        db = db_session()
        reset = tokens.find_password_reset(db, secret)
        if reset is not None:
            reset.used_at = utcnow()
        reason = f"{type(error).__name__}: {error}"[:300]
        audit.record(db, "password_reset_mail_failed", actor=current_db_user(),
                     target=user.email, detail={"error": reason}, ip=client_ip())
        db.commit()
        log.warning("reset e-mail to %s failed: %s", user.email, reason)
        flash(f"The e-mail to {user.email} could not be sent ({reason}); the link is "
              "withdrawn. Try again, or choose a link shown to you.", "danger")
        return
    flash(f"A one-time reset link (valid {tokens.RESET_HOURS} hours) is e-mailed to "
          f"{user.email}.", "success")


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def locale_settings():
    """The installation's locale: what is set, where each value comes from, a preview of
    the form's values ("Preview") before they are saved ("Save")."""
    db = db_session()
    stored = installation.stored_settings(db)
    form = LocaleForm(data=None if request.method == "POST" else stored)
    error, preview = None, None
    if form.validate_on_submit():
        changes = {field: form[field].data or None for field in installation.SETTING_NAMES}
        try:
            if "preview" in request.form:
                state = installation.resolve(
                    {k: v for k, v in changes.items() if v}, services.settings(),
                    services.locale_state().data_currency)
                preview = installation.example(state.locale)
            else:
                installation.update_locale(db, current_db_user(), changes, ip=client_ip())
                db.commit()
                installation.forget_cached()
                flash("The settings are saved.", "success")
                return redirect(url_for("admin.locale_settings"))
        except LocaleError as refusal:
            db.rollback()
            error = str(refusal)
    state = services.locale_state()
    return render_template("admin/settings.html", form=form, error=error, state=state,
                           example=installation.example(state.locale),
                           preview=preview), 400 if error else 200


@bp.route("/audit")
@role_required("admin")
def audit_log():
    """Audit events, newest first, filtered by action, actor (substring), target
    (substring) and day range; paged by ``page``."""
    args = request.args
    query = sa.select(AuditEvent)
    action = args.get("action", "").strip()
    actor = args.get("actor", "").strip()[:254]
    target = args.get("target", "").strip()[:300]
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor.contains(actor, autoescape=True))
    if target:
        query = query.where(AuditEvent.target.contains(target, autoescape=True))
    errors = []
    for name, bound in (("start", "since"), ("end", "until")):
        text = args.get(name, "").strip()
        if not text:
            continue
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            errors.append(f"{name} must be a date written YYYY-MM-DD.")
            continue
        moment = dt.datetime.combine(day, dt.time())
        query = query.where(AuditEvent.ts >= moment) if bound == "since" else \
            query.where(AuditEvent.ts < moment + dt.timedelta(days=1))
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    db = db_session()
    events = list(db.scalars(query.order_by(AuditEvent.ts.desc(), AuditEvent.id.desc())
                             .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)))
    actions = list(db.scalars(sa.select(AuditEvent.action).distinct().order_by(
        AuditEvent.action)))
    more = len(events) > AUDIT_PAGE_SIZE
    return render_template("admin/audit.html", events=events[:AUDIT_PAGE_SIZE], page=page,
                           more=more, actions=actions, args=args, errors=errors), \
        400 if errors else 200
