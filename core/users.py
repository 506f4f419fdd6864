"""User services: accounts, roles, data scopes, passwords, sign-in with throttling.

Each function validates (including the actor's role), changes the session and records an
audit event; the caller commits. ``actor`` is the signed-in User or a label such as "cli"
(the command line runs with admin rights). Errors are ``UserError`` subclasses whose
message can be shown to the user as is.

Sign-in throttling: ``ACCOUNT_FAILURES`` failed sign-ins for one e-mail, or
``ADDRESS_FAILURES`` from one IP address, within ``THROTTLE_WINDOW`` lock that key for
``LOCK_DURATION``. The counters live in ``LoginThrottle`` rows keyed ``account:<email>`` and
``ip:<address>``; each attempt is counted atomically in the database before the password is
checked (``_count_attempt``), so parallel attempts cannot get more guesses, and a successful
one is taken back. ``authenticate`` commits that count itself, the one exception to "the
caller commits".

Reset requests from the sign-in page ("Forgot your password?") are throttled the same way:
``RESET_ACCOUNT_REQUESTS`` per e-mail and ``RESET_ADDRESS_REQUESTS`` per IP address within
``THROTTLE_WINDOW`` (keys ``reset:<email>``, ``reset-ip:<address>``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import AccessDenied, Conflict, InvalidInput
from analytics.filters import Scope
from core import audit, db, passwords, tokens
from core.orm import ROLE_RANK, ROLES, DataScope, LoginThrottle, User, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
THROTTLE_WINDOW = dt.timedelta(minutes=15)
LOCK_DURATION = dt.timedelta(minutes=15)
RESET_ACCOUNT_REQUESTS = 3
RESET_ADDRESS_REQUESTS = 10
INVALID_RESET_LINK = ("This reset link is invalid, used or expired: ask for a new one "
                      "(“Forgot your password?” on the sign-in page) or ask an admin.")
DEFAULT_ADMIN_EMAIL = "admin@localhost"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class UserError(InvalidInput):
    """A user change or sign-in is refused; the message says why."""


class PermissionDenied(AccessDenied, UserError):
    """The actor's role does not allow the change."""


class LastAdminError(Conflict, UserError):
    """The change would leave no active admin."""


class SignInError(UserError):
    """A sign-in failed (wrong credentials, locked, deactivated)."""


class ResetThrottled(UserError):
    """Too many reset requests from one address (says nothing about any account)."""


class UNSET:
    """Marker for "leave this field as it is" in ``update_user``."""


# ---------------------------------------------------------------------- lookups
def normalise_email(text: str) -> str:
    """Trimmed, lower-cased e-mail; raises UserError when it is not an address."""
    email = str(text or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise UserError(f"{text!r} is not an e-mail address.")
    return email


def find_user(session: Session, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except UserError:
        return None
    return session.scalar(sa.select(User).where(User.email == email))


def get_user(session: Session, email: str) -> User:
    """The user with ``email``; raises UserError when there is none."""
    user = find_user(session, email)
    if user is None:
        raise UserError(f"There is no user {email!r}.")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.email)).unique())


def user_scope(user: User | None) -> Scope:
    """The data ``user`` may see (all data when the user has no scope row)."""
    if user is None:
        return Scope(frozenset())
    return Scope.of(user.countries)


def parse_countries(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """A scope as typed by an admin (``"GB, France, EIRE"`` or a list) → sorted ISO codes.
    None or blank means all data. Names are resolved as in the data (``analytics.countries``)."""
    if value is None:
        return None
    tokens_ = [t.strip() for t in (value.split(",") if isinstance(value, str) else value)]
    tokens_ = [t for t in tokens_ if t]
    if not tokens_:
        return None
    from analytics.countries import UnknownCountryError, resolve_country
    codes = set()
    for token in tokens_:
        try:
            codes.add(resolve_country(token))
        except UnknownCountryError as error:
            raise UserError(str(error)) from None
    return tuple(sorted(codes))


def active_admin_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "admin", User.is_active.is_(True))) or 0


# ---------------------------------------------------------------------- changes
def _require_admin(actor: User | str) -> None:
    if isinstance(actor, User) and not (actor.is_active and actor.has_role("admin")):
        raise PermissionDenied("Only an admin can manage users.")


def _require_within_own_access(actor: User | str, user: User | None, role: str,
                               countries: tuple[str, ...] | None) -> None:
    """A signed-in admin limited to a data scope acts inside it: they cannot give anyone,
    themselves included, a scope wider than their own (all data, or a country outside
    theirs), nor manage an account that sees more than they do (its password, say). Nobody
    raises their own role. ``user`` is None for a new account; ``role`` and ``countries``
    are the account's after the change."""
    if not isinstance(actor, User):
        return
    if user is not None and actor.id == user.id and \
            ROLE_RANK[role] > ROLE_RANK.get(user.role, len(ROLES)):
        raise PermissionDenied("You cannot raise your own role: ask another admin.")
    own = actor.countries
    if own is None:
        return
    for scope in (own if user is None else user.countries, countries):
        if scope is None or not set(scope) <= set(own):
            raise PermissionDenied(
                f"Your data scope ({', '.join(own)}) limits the accounts you manage: "
                "nobody, you included, can be given or keep more data than you see here.")


def _check_role(role: str) -> str:
    role = str(role or "").strip().lower()
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    return role


def _set_scope(user: User, countries: tuple[str, ...] | None) -> None:
    if countries is None:
        user.scope = None
    elif user.scope is None:
        user.scope = DataScope(countries=list(countries))
    else:
        user.scope.countries = list(countries)


def create_user(session: Session, actor: User | str, email: str, *, role: str = "viewer",
                countries: str | Iterable[str] | None = None, password: str | None = None,
                name: str | None = None, ip: str | None = None) -> tuple[User, str | None]:
    """Create an account. Without ``password`` a random one is generated, returned (show it
    once) and must be changed at first sign-in. Returns (user, generated password or None)."""
    _require_admin(actor)
    email = normalise_email(email)
    role = _check_role(role)
    codes = parse_countries(countries)
    _require_within_own_access(actor, None, role, codes)
    if find_user(session, email) is not None:
        raise UserError(f"There is already a user {email}.")
    generated = None
    if password is None:
        generated = password = passwords.generate_password()
    else:
        try:
            passwords.check_password_policy(password, email)
        except passwords.PasswordPolicyError as error:
            raise UserError(str(error)) from None
    user = User(email=email, name=(name or "").strip() or None, role=role,
                password_hash=passwords.hash_password(password),
                must_change_password=generated is not None, password_changed_at=utcnow())
    _set_scope(user, codes)
    session.add(user)
    session.flush()
    audit.record(session, "user_created", actor=actor, target=email,
                 detail={"role": role, "countries": list(codes) if codes else None}, ip=ip)
    return user, generated


def update_user(session: Session, actor: User | str, user: User, *, role=UNSET,
                countries=UNSET, name=UNSET, is_active=UNSET, ip: str | None = None) -> User:
    """Change role, scope (``countries``: text, list, or None for all data), name or
    active flag. Role, scope and activity changes end the user's sessions at once
    (``session_epoch``). The last active admin cannot be demoted or deactivated."""
    _require_admin(actor)
    changes: dict = {}
    new_role = user.role if role is UNSET else _check_role(role)
    new_active = user.is_active if is_active is UNSET else bool(is_active)
    new_codes = user.countries if countries is UNSET else parse_countries(countries)
    _require_within_own_access(actor, user, new_role, new_codes)
    if user.role == "admin" and user.is_active and (new_role != "admin" or not new_active):
        if active_admin_count(session) <= 1:
            raise LastAdminError(f"{user.email} is the last active admin: make another "
                                 "admin first.")
    if new_role != user.role:
        changes["role"] = [user.role, new_role]
        user.role = new_role
    if new_active != user.is_active:
        changes["is_active"] = [user.is_active, new_active]
        user.is_active = new_active
    if countries is not UNSET and new_codes != user.countries:
        changes["countries"] = [list(user.countries) if user.countries else None,
                                list(new_codes) if new_codes else None]
        _set_scope(user, new_codes)
    if name is not UNSET:
        new_name = (name or "").strip() or None
        if new_name != user.name:
            changes["name"] = [user.name, new_name]
            user.name = new_name
    if set(changes) & {"role", "is_active", "countries"}:
        user.session_epoch += 1
    if changes:
        action = "user_deactivated" if changes.get("is_active") == [True, False] else \
            "user_updated"
        audit.record(session, action, actor=actor, target=user.email, detail=changes, ip=ip)
    return user


def deactivate_user(session: Session, actor: User | str, user: User, *,
                    ip: str | None = None) -> User:
    """Deactivate: the user's sessions and API tokens stop working on their next request."""
    return update_user(session, actor, user, is_active=False, ip=ip)


def _store_password(user: User, new_password: str) -> None:
    try:
        passwords.check_password_policy(new_password, user.email)
    except passwords.PasswordPolicyError as error:
        raise UserError(str(error)) from None
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    user.session_epoch += 1


def change_password(session: Session, user: User, current_password: str, new_password: str,
                    *, ip: str | None = None) -> User:
    """The user changes their own password (the current one is required). Other sessions
    of the user end; the caller signs the current session in again."""
    if not passwords.verify_password(user.password_hash, current_password or ""):
        raise UserError("The current password is wrong.")
    if current_password == new_password:
        raise UserError("The new password must differ from the current one.")
    _store_password(user, new_password)
    audit.record(session, "password_changed", actor=user, target=user.email, ip=ip)
    return user


def reset_password(session: Session, actor: User | str, user: User, *, link: bool = False,
                   emailed: bool = False, ip: str | None = None) -> str:
    """An admin resets a user's password. With ``link=False`` a one-time password is set
    (the user must change it at sign-in) and returned; with ``link=True`` a one-time reset
    token (valid ``tokens.RESET_HOURS``) is returned for the link ``/reset/<token>``
    (``emailed=True`` records that the caller sends the link by e-mail).
    Either way a sign-in lock on the account is lifted; a one-time password also ends the
    user's sessions (a link does when it is used)."""
    _require_admin(actor)
    _require_within_own_access(actor, user, user.role, user.countries)
    if not user.is_active:
        raise UserError(f"{user.email} is deactivated: reactivate the account first.")
    _clear_throttle(session, _account_key(user.email))
    user.failed_logins = 0
    user.locked_until = None
    if link:
        _reset, secret = tokens.create_password_reset(session, user)
        audit.record(session, "password_reset", actor=actor, target=user.email,
                     detail={"method": "e-mail link" if emailed else "link"}, ip=ip)
        return secret
    secret = passwords.generate_password()
    user.password_hash = passwords.hash_password(secret)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.session_epoch += 1
    audit.record(session, "password_reset", actor=actor, target=user.email,
                 detail={"method": "one-time password"}, ip=ip)
    return secret


def complete_password_reset(session: Session, token_text: str, new_password: str, *,
                            ip: str | None = None) -> User:
    """Use a reset link: set the new password, spend the token and lift a sign-in lock on
    the account (whoever holds the link controls the mailbox or was given it by an admin)."""
    reset = tokens.find_password_reset(session, token_text)
    if reset is None:
        raise UserError(INVALID_RESET_LINK)
    user = session.get(User, reset.user_id)
    _store_password(user, new_password)
    reset.used_at = utcnow()
    _clear_throttle(session, _account_key(user.email))
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, "password_changed", actor=user, target=user.email,
                 detail={"method": "reset link"}, ip=ip)
    return user


def request_password_reset(session: Session, email: str, *,
                           ip: str | None = None) -> tuple[User, str] | None:
    """A signed-out user asks for a reset link by e-mail address. Returns (user, token text
    for ``/reset/<token>``) when a link should be e-mailed to ``user.email``, else None:
    unknown or deactivated account, or too many requests for that address (the caller's
    answer must be the same either way). Raises ResetThrottled when the requesting IP
    address made too many requests (that refusal reveals nothing about accounts).

    Every request is audited (``password_reset_requested`` with the outcome); the caller
    commits in every case, also when ResetThrottled is raised."""
    now = utcnow()
    typed = str(email or "").strip().lower()[:254]
    address_key = f"reset-ip:{ip}" if ip else None
    if address_key and not _take_allowance(session, address_key, RESET_ADDRESS_REQUESTS, now):
        audit.record(session, "password_reset_requested", actor=typed or None,
                     target=typed or None, detail={"outcome": "address throttled"}, ip=ip)
        raise ResetThrottled("Too many reset requests from your network: try again in "
                             f"{int(LOCK_DURATION.total_seconds() // 60)} minutes.")
    if not _take_allowance(session, f"reset:{typed}", RESET_ACCOUNT_REQUESTS, now):
        outcome, user = "account throttled", None
    else:
        user = find_user(session, typed)
        outcome = ("unknown account" if user is None else
                   "deactivated" if not user.is_active else "link created")
    audit.record(session, "password_reset_requested", actor=typed or None,
                 target=typed or None, detail={"outcome": outcome}, ip=ip)
    if outcome != "link created":
        return None
    _reset, secret = tokens.create_password_reset(session, user)
    return user, secret


def _take_allowance(session: Session, key: str, limit: int, now: dt.datetime) -> bool:
    """Count one request against ``key``; False (and nothing counted) while the key is
    locked. The ``limit``-th request within THROTTLE_WINDOW is still allowed and locks the
    key for LOCK_DURATION."""
    return _count_attempt(session, key, limit, now) is not None


# ---------------------------------------------------------------------- sign-in
@dataclasses.dataclass(frozen=True)
class _Attempt:
    """One attempt counted against a throttle key: the key's count after it, and the lock
    it set (None when it set none)."""
    key: str
    failures: int
    locked_until: dt.datetime | None


def _account_key(email: str) -> str:
    return f"account:{email}"


def _address_key(ip: str | None) -> str | None:
    return f"ip:{ip}" if ip else None


def _locked_minutes(session: Session, keys: list[str], now: dt.datetime) -> int | None:
    # columns, not LoginThrottle objects: the counts change by UPDATE statements, which
    # objects already in the session would not see
    until = [moment for moment in session.scalars(
        sa.select(LoginThrottle.locked_until).where(LoginThrottle.key.in_(keys)))
        if moment is not None and moment > now]
    if not until:
        return None
    return max(1, math.ceil((max(until) - now).total_seconds() / 60))


def _count_attempt(session: Session, key: str, limit: int, now: dt.datetime) -> _Attempt | None:
    """Count one attempt against ``key`` in the database, atomically: None (nothing counted)
    when the key is locked, else the count after it; the ``limit``-th attempt within
    THROTTLE_WINDOW locks the key for LOCK_DURATION.

    Attempts are counted before the password is checked, in one conditional UPDATE after an
    INSERT … ON CONFLICT DO NOTHING: parallel attempts wait for each other's row (the
    UPDATE's row lock on PostgreSQL, the write lock on SQLite) instead of all reading "not
    locked" first, so a burst gets exactly ``limit`` guesses and never a duplicate key."""
    session.flush()  # pending ORM changes to throttle rows first (a deleted row, say)
    table = LoginThrottle.__table__
    session.execute(_insert_ignoring_duplicates(session, table).values(
        key=key, failures=0, window_start=now, locked_until=None))
    stale = table.c.window_start < now - THROTTLE_WINDOW
    failures = sa.case((stale, 1), else_=table.c.failures + 1)
    locks = failures >= limit
    row = session.execute(
        sa.update(table)
        .where(table.c.key == key,
               sa.or_(table.c.locked_until.is_(None), table.c.locked_until <= now))
        .values(failures=sa.case((locks, 0), else_=failures),
                window_start=sa.case((sa.or_(locks, stale), now),
                                     else_=table.c.window_start),
                locked_until=sa.case((locks, now + LOCK_DURATION), else_=None))
        .returning(table.c.failures, table.c.locked_until)).first()
    if row is None:
        return None
    return _Attempt(key, row.failures, row.locked_until)


def _insert_ignoring_duplicates(session: Session, table: sa.Table):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"the app database is SQLite or PostgreSQL, not {dialect}")
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.key])


def _refund_attempt(session: Session, attempt: _Attempt, limit: int) -> None:
    """Take back an attempt that turned out to be a successful sign-in (and the lock it
    set, if it set one), so that many people signing in from one address never lock it."""
    table = LoginThrottle.__table__
    if attempt.locked_until is not None:
        session.execute(sa.update(table).where(
            table.c.key == attempt.key, table.c.locked_until == attempt.locked_until
        ).values(locked_until=None, failures=limit - 1))
    else:
        session.execute(sa.update(table).where(
            table.c.key == attempt.key, table.c.failures > 0
        ).values(failures=table.c.failures - 1))


def _clear_throttle(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)


def _locked_message(minutes: int) -> str:
    return (f"Too many failed sign-ins: try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}, or ask an admin to reset your password.")


def authenticate(session: Session, email: str, password: str, *,
                 ip: str | None = None) -> User:
    """Check a sign-in; return the user or raise SignInError with a message for the page.

    Every attempt is counted against the account's and the address's throttle keys before
    the password is checked (``_count_attempt``), and that count is committed at once (this
    commits ``session``); a successful attempt is taken back. The rest (the refund, audit
    events, the user's row) is left to the caller, who commits also when SignInError is
    raised."""
    now = utcnow()
    typed = str(email or "").strip().lower()[:254]
    keys = [_account_key(typed)] + ([_address_key(ip)] if ip else [])
    minutes = _locked_minutes(session, keys, now)
    account = address = None
    if minutes is None:
        account = _count_attempt(session, _account_key(typed), ACCOUNT_FAILURES, now)
        if account is not None and ip:
            address = _count_attempt(session, _address_key(ip), ADDRESS_FAILURES, now)
        if account is None or (ip and address is None):
            # a parallel attempt locked a key after the check above
            minutes = math.ceil(LOCK_DURATION.total_seconds() / 60)
        # committed before the slow password check: parallel attempts then wait for the
        # throttle rows only as long as these statements, not as long as the check (every
        # sign-in from one office's address would queue behind it)
        session.commit()
    if minutes is not None:
        audit.record(session, "login_failed", actor=typed or None, target=typed or None,
                     detail={"reason": "locked"}, ip=ip)
        raise SignInError(_locked_message(minutes))
    user = find_user(session, typed)
    if user is None:
        passwords.spend_verification_time(password)
    valid = user is not None and passwords.verify_password(user.password_hash, password or "")
    if user is None or not valid:
        if user is not None:
            user.failed_logins = account.failures
            user.locked_until = account.locked_until
        audit.record(session, "login_failed", actor=typed or None, target=typed or None,
                     detail={"reason": "wrong password" if user else "unknown account"}, ip=ip)
        if account.locked_until is not None:
            raise SignInError(f"Too many failed sign-ins: this account is locked for "
                              f"{int(LOCK_DURATION.total_seconds() // 60)} minutes.")
        raise SignInError("Wrong e-mail or password.")
    if address is not None:
        _refund_attempt(session, address, ADDRESS_FAILURES)
    _clear_throttle(session, _account_key(typed))
    if not user.is_active:
        audit.record(session, "login_failed", actor=user, target=user.email,
                     detail={"reason": "deactivated"}, ip=ip)
        raise SignInError("This account is deactivated: ask an admin.")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record(session, "login", actor=user, target=user.email, ip=ip)
    return user


def sign_out(session: Session, user: User, *, ip: str | None = None) -> User:
    """End every session of ``user`` on the server: the session cookies carry the
    ``session_epoch`` they were made with, so bumping it refuses this browser's cookie and
    any copy of it (and the user's other browsers: a cookie cannot be told apart from its
    copy). API tokens are not touched."""
    user.session_epoch += 1
    audit.record(session, "logout", actor=user, target=user.email, ip=ip)
    return user


# ---------------------------------------------------------------------- first start
def ensure_admin(settings: Settings) -> tuple[str, str | None]:
    """Make sure an active admin exists (first start of ``make run``). Creates
    ``admin@localhost`` with a generated password, returned once; returns
    (email, None) when an active admin exists already."""
    db.migrate(settings.database_url)
    with db.session_scope(settings.database_url) as session:
        existing = session.scalar(sa.select(User).where(
            User.role == "admin", User.is_active.is_(True)).order_by(User.id).limit(1))
        if existing is not None:
            return existing.email, None
        user = find_user(session, DEFAULT_ADMIN_EMAIL)
        if user is not None:
            secret = passwords.generate_password()
            user.role, user.is_active = "admin", True
            user.password_hash = passwords.hash_password(secret)
            user.must_change_password = True
            user.session_epoch += 1
            audit.record(session, "user_updated", actor="system", target=user.email,
                         detail={"role": "admin", "is_active": True, "reason": "first start"})
            return user.email, secret
        user, secret = create_user(session, "system", DEFAULT_ADMIN_EMAIL, role="admin",
                                   name="Administrator")
        log.info("created the first admin %s", DEFAULT_ADMIN_EMAIL)
        return user.email, secret
