"""``flask --app wsgi users …``: create users, make API tokens, list, deactivate."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from core import db, tokens, users
from core.orm import ROLES


def _settings():
    return current_app.extensions["shoplens.settings"]


users_cli = AppGroup("users", help="Manage user accounts and API tokens.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default=ROLES[0],
              show_default=True)
@click.option("--countries", default=None,
              help="Data scope: ISO codes or names as in the data, comma-separated "
                   "(GB,FR or 'United Kingdom,EIRE'); omit for all data.")
@click.option("--name", default=None, help="Display name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of generating one.")
def create(email: str, role: str, countries: str | None, name: str | None,
           password_stdin: bool) -> None:
    """Create a user. Without --password-stdin a one-time password is printed once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        with db.session_scope(_settings().database_url) as session:
            user, generated = users.create_user(session, "cli", email, role=role,
                                                countries=countries, password=password,
                                                name=name)
            email, scope = user.email, users.user_scope(user)
    except users.UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {email} ({role}, {scope}).")
    if generated:
        click.echo(f"One-time password (shown once, to be changed at the first sign-in): "
                   f"{generated}")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def token(email: str, name: str) -> None:
    """Make an API token for EMAIL and print it once."""
    try:
        with db.session_scope(_settings().database_url) as session:
            user = users.get_user(session, email)
            row, text = tokens.create_api_token(session, user, name, actor="cli")
            prefix = row.prefix
    except (users.UserError, tokens.TokenError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"API token {prefix}… for {email} (shown once; send it as "
               "'Authorization: Bearer <token>'):", err=True)
    click.echo(text)


@users_cli.command("list")
def list_users() -> None:
    """List users: e-mail, role, scope, status."""
    with db.session_scope(_settings().database_url) as session:
        rows = [(user.email, user.role, str(users.user_scope(user)),
                 "active" if user.is_active else "deactivated")
                for user in users.list_users(session)]
    if not rows:
        click.echo("No users yet.")
        return
    width = max(len(row[0]) for row in rows)
    for email, role, scope, status in rows:
        click.echo(f"{email:<{width}}  {role:<7}  {status:<11}  {scope}")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Deactivate EMAIL: their sessions and API tokens stop working at once."""
    try:
        with db.session_scope(_settings().database_url) as session:
            users.deactivate_user(session, "cli", users.get_user(session, email))
    except users.UserError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Deactivated {email}.")
