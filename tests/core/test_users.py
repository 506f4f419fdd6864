"""User services: accounts, roles, scopes, passwords, throttled sign-in, first admin."""
from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from analytics.filters import Scope
from core import db, passwords, tokens, users
from core.orm import ROLE_RANK, AuditEvent, LoginThrottle, User

GOOD_PASSWORD = "correct horse battery"


pytestmark = pytest.mark.usefixtures("cheap_hashing")


def _actions(session) -> list[str]:
    return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_password_policy():
    passwords.check_password_policy(GOOD_PASSWORD, "ann@example.com")
    for weak in ("short1!", "password123", "Password2024!", "qwertyuiop", "aaaaaaaaaaaa"):
        with pytest.raises(passwords.PasswordPolicyError):
            passwords.check_password_policy(weak)
    with pytest.raises(passwords.PasswordPolicyError, match="e-mail"):
        passwords.check_password_policy("annabelle.smith@example.com",
                                        "annabelle.smith@example.com")
    with pytest.raises(passwords.PasswordPolicyError, match="e-mail"):
        passwords.check_password_policy("annabelle.smith99", "annabelle.smith@example.com")


@pytest.mark.parametrize("password", [
    "!!annabelle.smith!!", "#Annabelle.Smith#2024", "my ANNABELLE.SMITH pass",
    "Annabelle.Smith@Example.com!", "x annabelle.smith@example.com x"])
def test_password_policy_refuses_the_e_mail_inside_a_password(password):
    with pytest.raises(passwords.PasswordPolicyError, match="e-mail"):
        passwords.check_password_policy(password, "annabelle.smith@example.com")


def test_password_policy_counts_the_local_part_for_nothing():
    """Inside a long passphrase the local part does no harm: the rest is long enough."""
    passwords.check_password_policy("an smtp long phrase", "smtp@example.com")
    passwords.check_password_policy("annabelle.smith sings at dawn",
                                    "annabelle.smith@example.com")
    with pytest.raises(passwords.PasswordPolicyError, match="e-mail"):
        passwords.check_password_policy("smtp smtp.long", "smtp@example.com")
    with pytest.raises(passwords.PasswordPolicyError, match="e-mail"):
        passwords.check_password_policy("a jo@example.com b", "jo@example.com")


def test_password_policy_generated():
    generated = passwords.generate_password()
    passwords.check_password_policy(generated)
    assert generated != passwords.generate_password()


def test_hashing_is_argon2_and_verifies():
    digest = passwords.hash_password(GOOD_PASSWORD)
    assert digest.startswith("$argon2id$")
    assert passwords.verify_password(digest, GOOD_PASSWORD)
    assert not passwords.verify_password(digest, GOOD_PASSWORD + "x")
    assert not passwords.verify_password(None, GOOD_PASSWORD)
    assert not passwords.verify_password("garbage", GOOD_PASSWORD)


def test_create_user_with_scope_by_name_and_code(session):
    user, generated = users.create_user(session, "cli", " Ann@Example.com ", role="analyst",
                                        countries="France, EIRE,gb")
    assert user.email == "ann@example.com"
    assert user.countries == ("FR", "GB", "IE")
    assert users.user_scope(user) == Scope(frozenset({"FR", "GB", "IE"}))
    assert generated and user.must_change_password
    assert passwords.verify_password(user.password_hash, generated)
    with pytest.raises(users.UserError, match="already"):
        users.create_user(session, "cli", "ann@example.com")
    with pytest.raises(users.UserError, match="Unknown country"):
        users.create_user(session, "cli", "bob@example.com", countries="Atlantis")
    with pytest.raises(users.UserError, match="role"):
        users.create_user(session, "cli", "bob@example.com", role="owner")
    with pytest.raises(users.UserError, match="common"):
        users.create_user(session, "cli", "bob@example.com", password="password123")
    whole, _ = users.create_user(session, "cli", "all@example.com", password=GOOD_PASSWORD)
    assert whole.countries is None and users.user_scope(whole).is_all
    assert not whole.must_change_password
    assert _actions(session) == ["user_created", "user_created"]


def test_only_admins_manage_users(session):
    analyst, _ = users.create_user(session, "cli", "an@example.com", role="analyst")
    with pytest.raises(users.PermissionDenied):
        users.create_user(session, analyst, "x@example.com")
    with pytest.raises(users.PermissionDenied):
        users.update_user(session, analyst, analyst, role="admin")
    with pytest.raises(users.PermissionDenied):
        users.reset_password(session, analyst, analyst)


def test_last_admin_cannot_be_demoted_or_deactivated(session):
    admin, _ = users.create_user(session, "cli", "root@example.com", role="admin")
    with pytest.raises(users.LastAdminError):
        users.update_user(session, admin, admin, role="analyst")
    with pytest.raises(users.LastAdminError):
        users.deactivate_user(session, admin, admin)
    second, _ = users.create_user(session, admin, "second@example.com", role="admin")
    users.update_user(session, second, admin, role="viewer")
    assert admin.role == "viewer"
    with pytest.raises(users.LastAdminError):
        users.deactivate_user(session, "cli", second)


def test_changes_end_sessions_and_are_audited(session):
    user, _ = users.create_user(session, "cli", "v@example.com")
    epoch = user.session_epoch
    users.update_user(session, "cli", user, name="Vera")
    assert user.session_epoch == epoch, "a name change keeps sessions"
    users.update_user(session, "cli", user, countries=["DE"])
    assert user.session_epoch == epoch + 1 and user.countries == ("DE",)
    users.update_user(session, "cli", user, countries=None)
    assert user.countries is None and user.session_epoch == epoch + 2
    users.deactivate_user(session, "cli", user)
    assert not user.is_active and user.session_epoch == epoch + 3
    assert _actions(session)[-1] == "user_deactivated"


def test_change_password_and_reset(session):
    user, first = users.create_user(session, "cli", "p@example.com")
    with pytest.raises(users.UserError, match="current password"):
        users.change_password(session, user, "wrong one", GOOD_PASSWORD)
    with pytest.raises(users.UserError, match="at least"):
        users.change_password(session, user, first, "short")
    users.change_password(session, user, first, GOOD_PASSWORD)
    assert not user.must_change_password
    assert passwords.verify_password(user.password_hash, GOOD_PASSWORD)

    one_time = users.reset_password(session, "cli", user)
    assert user.must_change_password
    assert passwords.verify_password(user.password_hash, one_time)

    link = users.reset_password(session, "cli", user, link=True)
    users.complete_password_reset(session, link, "a brand new passphrase")
    assert passwords.verify_password(user.password_hash, "a brand new passphrase")
    with pytest.raises(users.UserError, match="invalid, used or expired"):
        users.complete_password_reset(session, link, "another new passphrase")
    assert _actions(session).count("password_reset") == 2


def _outcomes(session, action="password_reset_requested") -> list[str]:
    return [event.detail["outcome"] for event in session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def test_requested_reset_only_for_active_accounts_and_audited(session):
    user, _ = users.create_user(session, "cli", "r@example.com", password=GOOD_PASSWORD)
    gone, _ = users.create_user(session, "cli", "gone@example.com", password=GOOD_PASSWORD)
    users.deactivate_user(session, "cli", gone)
    assert users.request_password_reset(session, "nobody@example.com", ip="10.0.0.1") is None
    assert users.request_password_reset(session, "gone@example.com", ip="10.0.0.1") is None
    assert users.request_password_reset(session, "not an address", ip="10.0.0.1") is None
    owner, first = users.request_password_reset(session, " R@Example.com ", ip="10.0.0.1")
    assert owner is user and tokens.find_password_reset(session, first) is not None
    _owner, second = users.request_password_reset(session, "r@example.com", ip="10.0.0.1")
    assert tokens.find_password_reset(session, first) is None  # the newer link replaces it
    assert _outcomes(session) == ["unknown account", "deactivated", "unknown account",
                                  "link created", "link created"]
    users.complete_password_reset(session, second, "a brand new passphrase")
    assert passwords.verify_password(user.password_hash, "a brand new passphrase")


def test_requested_resets_are_throttled_per_account_and_per_address(session):
    users.create_user(session, "cli", "many@example.com", password=GOOD_PASSWORD)
    answers = [users.request_password_reset(session, "many@example.com", ip=f"10.0.0.{n}")
               for n in range(users.RESET_ACCOUNT_REQUESTS + 1)]
    assert [answer is not None for answer in answers] == \
        [True] * users.RESET_ACCOUNT_REQUESTS + [False]
    assert _outcomes(session)[-1] == "account throttled"
    for number in range(users.RESET_ADDRESS_REQUESTS):
        users.request_password_reset(session, f"who{number}@example.com", ip="10.7.7.7")
    with pytest.raises(users.ResetThrottled, match="Too many reset requests"):
        users.request_password_reset(session, "who@example.com", ip="10.7.7.7")
    assert _outcomes(session)[-1] == "address throttled"
    row = session.get(LoginThrottle, "reset:many@example.com")
    row.locked_until = users.utcnow() - dt.timedelta(seconds=1)
    assert users.request_password_reset(session, "many@example.com", ip="10.0.0.9")


def test_reset_link_lifts_a_sign_in_lock(session):
    user, _ = users.create_user(session, "cli", "locked@example.com", password=GOOD_PASSWORD)
    for _attempt in range(users.ACCOUNT_FAILURES):
        with pytest.raises(users.SignInError):
            users.authenticate(session, "locked@example.com", "bad guess")
    assert user.locked_until is not None
    _owner, secret = users.request_password_reset(session, "locked@example.com")
    users.complete_password_reset(session, secret, "a brand new passphrase")
    session.flush()
    assert session.get(LoginThrottle, "account:locked@example.com") is None
    assert users.authenticate(session, "locked@example.com", "a brand new passphrase") is user


def test_sign_in_and_throttle(session):
    user, _ = users.create_user(session, "cli", "t@example.com", password=GOOD_PASSWORD)
    assert users.authenticate(session, "T@example.com", GOOD_PASSWORD, ip="10.0.0.1") is user
    for attempt in range(users.ACCOUNT_FAILURES - 1):
        with pytest.raises(users.SignInError, match="Wrong e-mail or password"):
            users.authenticate(session, "t@example.com", "bad guess", ip="10.0.0.1")
    with pytest.raises(users.SignInError, match="locked for 15 minutes"):
        users.authenticate(session, "t@example.com", "bad guess", ip="10.0.0.1")
    # locked: even the right password is refused, from another address too
    with pytest.raises(users.SignInError, match="try again in 15 minutes"):
        users.authenticate(session, "t@example.com", GOOD_PASSWORD, ip="10.0.0.2")
    row = session.get(LoginThrottle, "account:t@example.com")
    row.locked_until = users.utcnow() - dt.timedelta(seconds=1)
    assert users.authenticate(session, "t@example.com", GOOD_PASSWORD, ip="10.0.0.2") is user
    session.flush()
    assert session.get(LoginThrottle, "account:t@example.com") is None


def test_address_throttle_covers_many_accounts(session):
    for number in range(users.ADDRESS_FAILURES):
        with pytest.raises(users.SignInError):
            users.authenticate(session, f"guess{number}@example.com", "nope", ip="10.9.9.9")
    users.create_user(session, "cli", "real@example.com", password=GOOD_PASSWORD)
    with pytest.raises(users.SignInError, match="Too many"):
        users.authenticate(session, "real@example.com", GOOD_PASSWORD, ip="10.9.9.9")
    assert users.authenticate(session, "real@example.com", GOOD_PASSWORD, ip="10.1.1.1")


def test_deactivated_cannot_sign_in(session):
    user, _ = users.create_user(session, "cli", "d@example.com", password=GOOD_PASSWORD)
    users.deactivate_user(session, "cli", user)
    with pytest.raises(users.SignInError, match="deactivated"):
        users.authenticate(session, "d@example.com", GOOD_PASSWORD)


def test_ensure_admin_once(settings):
    email, password = users.ensure_admin(settings)
    assert email == "admin@localhost" and password
    assert users.ensure_admin(settings) == ("admin@localhost", None)
    with db.session_scope(settings.database_url) as session:
        admin = users.get_user(session, email)
        assert admin.role == "admin" and admin.must_change_password
        assert passwords.verify_password(admin.password_hash, password)
        assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_a_scoped_admin_cannot_widen_their_own_access(session):
    root, _ = users.create_user(session, "cli", "root@example.com", role="admin")
    scoped, _ = users.create_user(session, root, "gb-admin@example.com", role="admin",
                                  countries="GB, France")
    for change in ({"countries": None}, {"countries": ""}, {"countries": "GB, DE"}):
        with pytest.raises(users.PermissionDenied, match="data scope"):
            users.update_user(session, scoped, scoped, **change)
        assert scoped.countries == ("FR", "GB")
    # nor through another account: a new one, or one that already sees more
    with pytest.raises(users.PermissionDenied, match="data scope"):
        users.create_user(session, scoped, "alias@example.com", role="admin")
    with pytest.raises(users.PermissionDenied, match="data scope"):
        users.create_user(session, scoped, "alias@example.com", countries="DE")
    with pytest.raises(users.PermissionDenied, match="data scope"):
        users.reset_password(session, scoped, root)
    with pytest.raises(users.PermissionDenied, match="data scope"):
        users.update_user(session, scoped, root, role="viewer")
    assert root.role == "admin"
    # narrowing, and managing accounts inside the scope, stay allowed
    users.update_user(session, scoped, scoped, countries="GB")
    assert scoped.countries == ("GB",)
    helper, _ = users.create_user(session, scoped, "gb-viewer@example.com", countries="GB")
    users.update_user(session, scoped, helper, role="analyst")
    users.reset_password(session, scoped, helper)
    # an admin without a scope still changes anyone's, their own included
    users.update_user(session, root, scoped, countries=None)
    assert scoped.countries is None


def test_nobody_raises_their_own_role(session, monkeypatch):
    """With a role above admin (ROLES is the one list), an admin could not take it."""
    monkeypatch.setattr(users, "ROLES", (*users.ROLES, "owner"))
    monkeypatch.setattr(users, "ROLE_RANK", {**ROLE_RANK, "owner": len(ROLE_RANK)},
                        raising=False)
    admin, _ = users.create_user(session, "cli", "self@example.com", role="admin")
    users.create_user(session, "cli", "other@example.com", role="admin")
    with pytest.raises(users.PermissionDenied, match="own role"):
        users.update_user(session, admin, admin, role="owner")
    assert admin.role == "admin"
    users.update_user(session, admin, admin, role="analyst")
    assert admin.role == "analyst"


BURST = 12


def _burst_of_wrong_guesses(database_url: str, email: str, monkeypatch) -> list[str]:
    """``BURST`` wrong sign-ins for ``email`` at once, each in its own session and thread
    and from its own address, as parallel requests of web processes are; the password
    check takes 50 ms, as argon2 takes its time. Returns each attempt's outcome."""
    checked = []
    real_verify = passwords.verify_password

    def slow_verify(password_hash, password):
        checked.append(password)
        time.sleep(0.05)
        return real_verify(password_hash, password)
    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    start = threading.Barrier(BURST)

    def attempt(number: int) -> str:
        start.wait()
        try:
            with db.session_scope(database_url) as session:
                try:
                    users.authenticate(session, email, "a wrong guess", ip=f"10.8.{number}.1")
                except users.SignInError as refusal:
                    return str(refusal)
        except Exception as error:  # noqa: BLE001 - a crash is what the test looks for
            return f"crashed: {type(error).__name__}: {error}"
        return "signed in"
    with ThreadPoolExecutor(BURST) as pool:
        outcomes = list(pool.map(attempt, range(BURST)))
    assert len(checked) == users.ACCOUNT_FAILURES, outcomes
    return outcomes


def _assert_exactly_the_limit_was_guessed(outcomes: list[str]) -> None:
    assert not [outcome for outcome in outcomes if outcome.startswith("crashed")], outcomes
    wrong = [outcome for outcome in outcomes if outcome == "Wrong e-mail or password."]
    locking = [outcome for outcome in outcomes if "this account is locked" in outcome]
    refused = [outcome for outcome in outcomes if "try again in" in outcome]
    assert (len(wrong), len(locking), len(refused)) == (
        users.ACCOUNT_FAILURES - 1, 1, BURST - users.ACCOUNT_FAILURES), outcomes


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_parallel_burst_gets_exactly_the_allowed_guesses(request, settings, monkeypatch,
                                                            database):
    url = settings.database_url if database == "sqlite" else \
        request.getfixturevalue("postgres_database")
    db.migrate(url)
    with db.session_scope(url) as session:
        users.create_user(session, "cli", "burst@example.com", password=GOOD_PASSWORD)
    _assert_exactly_the_limit_was_guessed(
        _burst_of_wrong_guesses(url, "burst@example.com", monkeypatch))
    # an unknown account is throttled alike (its first failures race to make the row)
    monkeypatch.undo()
    _assert_exactly_the_limit_was_guessed(
        _burst_of_wrong_guesses(url, "nobody@example.com", monkeypatch))
    with db.session_scope(url) as session:
        row = session.get(LoginThrottle, "account:burst@example.com")
        assert row.locked_until is not None and row.failures == 0


def test_sign_ins_from_one_address_never_lock_it(session):
    users.create_user(session, "cli", "office@example.com", password=GOOD_PASSWORD)
    for _sign_in in range(users.ADDRESS_FAILURES + 3):
        users.authenticate(session, "office@example.com", GOOD_PASSWORD, ip="10.6.6.6")
    for number in range(users.ADDRESS_FAILURES - 1):
        with pytest.raises(users.SignInError, match="Wrong"):
            users.authenticate(session, f"guess{number}@example.com", "nope", ip="10.6.6.6")
    users.authenticate(session, "office@example.com", GOOD_PASSWORD, ip="10.6.6.6")
    with pytest.raises(users.SignInError, match="Wrong"):  # the last allowed failure
        users.authenticate(session, "last@example.com", "nope", ip="10.6.6.6")
    with pytest.raises(users.SignInError, match="Too many"):
        users.authenticate(session, "office@example.com", GOOD_PASSWORD, ip="10.6.6.6")
