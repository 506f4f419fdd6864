"""Password hashing (argon2id), the password policy, and generated passwords.

Policy: at least ``MIN_LENGTH`` characters, not a common password (``common_passwords.txt``,
also after stripping trailing digits and symbols: "Password2024!" is "password"), not one
character repeated, and not containing the account's e-mail address; its local part may
appear, but what is left without it must still be ``MIN_LENGTH`` characters long
(case-insensitive).
"""
from __future__ import annotations

import functools
import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from analytics.errors import InvalidInput

MIN_LENGTH = 10
#: A local part this long or longer counts for nothing wherever it stands in a password:
#: what is left without it must still be ``MIN_LENGTH`` long ("annabelle.smith!!" is a
#: guess away from the address; "an smtp long phrase" for smtp@… is not).
MIN_NAME_IN_PASSWORD = 3
MAX_LENGTH = 256          # argon2 copes with more; a cap stops multi-megabyte "passwords"
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "common_passwords.txt"
_hasher = PasswordHasher()
_dummy_hashes: dict[int, str] = {}
_TRAILING_NOISE = re.compile(r"[\d\W_]+$")
#: Generated passwords avoid characters people misread (0/O, 1/l/I).
_GENERATED_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class PasswordPolicyError(InvalidInput):
    """The password is not acceptable; the message tells the user why."""


def hash_password(password: str) -> str:
    """An argon2id hash (salt and parameters included in the string)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or a missing/corrupt hash."""
    if not password_hash or password is None:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def spend_verification_time(password: str) -> None:
    """Verify ``password`` against a throw-away hash, so that a sign-in for an unknown
    account takes as long as one for a known account (no e-mail enumeration by timing)."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes.clear()
        _dummy_hashes[key] = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_dummy_hashes[key], password or "")


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older argon2 parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The lower-cased common-password list."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines
                     if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, email: str | None = None) -> None:
    """Raise PasswordPolicyError when ``password`` breaks the policy (see module docstring)."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"The password must have at most {MAX_LENGTH} characters.")
    lowered = password.strip().lower()
    listed = common_passwords()
    if lowered in listed or _TRAILING_NOISE.sub("", lowered) in listed:
        raise PasswordPolicyError("This password is too common; choose one that is hard to "
                                  "guess (a few unrelated words work well).")
    if len(set(lowered)) == 1:
        raise PasswordPolicyError("The password must not be one character repeated.")
    if email:
        address = email.strip().lower()
        local_part = address.split("@", 1)[0]
        whole = password.lower()
        rest = whole.replace(local_part, "").strip() if \
            len(local_part) >= MIN_NAME_IN_PASSWORD else whole
        if lowered == local_part or address in whole or len(rest) < MIN_LENGTH:
            raise PasswordPolicyError("The password must not be made of your e-mail address "
                                      "or the part before the @: without it, at least "
                                      f"{MIN_LENGTH} characters must be left.")


def generate_password(length: int = 16) -> str:
    """A random password that passes the policy (about 93 bits at 16 characters)."""
    while True:
        password = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
        try:
            check_password_policy(password)
        except PasswordPolicyError:
            continue
        return password
