"""``flask users …``: create, token, list, deactivate."""
from __future__ import annotations

from core import db, passwords, tokens, users


def test_users_cli(app):
    runner = app.test_cli_runner()
    settings = app.extensions["shoplens.settings"]
    result = runner.invoke(args=["users", "create", "cli-user@example.com", "--role",
                                 "analyst", "--countries", "GB,France"])
    assert result.exit_code == 0, result.output
    generated = result.output.strip().rsplit(" ", 1)[-1]
    with db.session_scope(settings.database_url) as session:
        user = users.get_user(session, "cli-user@example.com")
        assert user.role == "analyst" and user.countries == ("FR", "GB")
        assert passwords.verify_password(user.password_hash, generated)

    result = runner.invoke(args=["users", "create", "stdin@example.com", "--password-stdin"],
                           input="a typed long passphrase\n")
    assert result.exit_code == 0 and "One-time" not in result.output
    with db.session_scope(settings.database_url) as session:
        assert passwords.verify_password(users.get_user(session, "stdin@example.com")
                                         .password_hash, "a typed long passphrase")
    weak = runner.invoke(args=["users", "create", "weak@example.com", "--password-stdin"],
                         input="password1\n")
    assert weak.exit_code != 0 and "at least 10" in weak.output

    result = runner.invoke(args=["users", "token", "cli-user@example.com", "--name", "ci"])
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    with db.session_scope(settings.database_url) as session:
        assert tokens.authenticate_token(session, token).email == "cli-user@example.com"

    listing = runner.invoke(args=["users", "list"]).output
    assert "cli-user@example.com" in listing and "FR, GB" in listing

    assert runner.invoke(args=["users", "deactivate", "cli-user@example.com"]).exit_code == 0
    with db.session_scope(settings.database_url) as session:
        assert tokens.authenticate_token(session, token) is None
    missing = runner.invoke(args=["users", "deactivate", "nobody@example.com"])
    assert missing.exit_code != 0 and "no user" in missing.output
