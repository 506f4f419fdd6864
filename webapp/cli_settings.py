"""``flask --app wsgi settings locale …``: show or change the installation's locale
(``core.installation``), as the admin's Settings page and ``PUT /api/v1/settings/locale``
do; changes are audited with the actor "cli"."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from core import db, installation
from core.formatting import DATE_FORMATS, NUMBER_STYLES, LocaleError
from webapp import services

settings_cli = AppGroup("settings", help="The installation's settings (its locale).")


@settings_cli.command("locale")
@click.option("--currency", default=None, help="ISO 4217 code (GBP, USD, EUR) or a sign.")
@click.option("--number-style", default=None,
              help="How 1234.56 is written: " + " | ".join(NUMBER_STYLES))
@click.option("--date-format", default=None, help="One of " + " | ".join(DATE_FORMATS))
@click.option("--timezone", default=None, help="The data's IANA time zone (Europe/London).")
@click.option("--reset", "resets", multiple=True,
              type=click.Choice(sorted(installation.SETTING_NAMES)),
              help="Go back to the environment's default for this setting (repeatable).")
def locale(currency, number_style, date_format, timezone, resets) -> None:
    """Show the locale; with options, change it first."""
    changes = {field: value for field, value in (
        ("currency", currency), ("number_style", number_style), ("date_format", date_format),
        ("timezone", timezone)) if value is not None}
    for field in resets:
        if field in changes:
            raise click.UsageError(f"--reset {field} and a new {field} at once")
        changes[field] = None
    if changes:
        try:
            with db.session_scope(services.settings().database_url) as session:
                changed = installation.update_locale(session, "cli", changes)
        except LocaleError as error:
            raise click.ClickException(str(error)) from None
        installation.forget_cached()
        for field, (old, new) in changed.items():
            click.echo(f"{field}: {old or '(default)'} → {new or '(default)'}")
    state = services.locale_state()
    for field in installation.SETTING_NAMES:
        click.echo(f"{field:<13} {getattr(state.locale, field):<12} "
                   f"({state.sources[field]})")
    click.echo(f"example       {installation.example(state.locale)}")
    if state.warning:
        click.echo(f"warning: {state.warning}", err=True)
