"""Sign-in, sign-out, password change, reset links and the user's own API tokens."""
from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core import tokens, users
from webapp.security import (Principal, client_ip, current_db_user, db_session, role_required,
                             safe_next)

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


class TokenForm(FlaskForm):
    name = StringField("Name (what the token is for)", validators=[Length(max=100)])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token (buttons that change state)."""


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
    """GET is accepted so a plain link signs out; signing out cannot harm anybody."""
    if current_user.is_authenticated:
        from core import audit
        db = db_session()
        audit.record(db, "logout", actor=current_db_user(), target=current_user.email,
                     ip=client_ip())
        db.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
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
                           forced=current_user.must_change_password), 400 if error else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """A one-time reset link made by an admin."""
    db = db_session()
    if tokens.find_password_reset(db, token) is None:
        return render_template("error.html", status=404,
                               message="This reset link is invalid, used or expired: ask an "
                                       "admin for a new one."), 404
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
