"""Ops (dashboard) user accounts: username/password rules and password hashing. Pure.

Passwords are hashed with scrypt (``hashlib.scrypt``, N=2^14, r=8, p=1, 16-byte random salt) and
stored as ``scrypt$N$r$p$<salt b64>$<hash b64>``; verification is constant-time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._\-]{1,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
_N, _R, _P = 2 ** 14, 8, 1


class AccountError(ValueError):
    """A username or password breaks a rule; ``field`` names which one."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_RE.fullmatch(name):
        raise AccountError("username", "2-64 characters: lower-case letters, digits, '.', '_' or '-', "
                                       "starting with a letter or digit")
    return name


def check_password(password: str, username: str = "") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError("password", f"must be at most {MAX_PASSWORD} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise AccountError("password", "must not contain control characters")
    if username and password.lower() == username.lower():
        raise AccountError("password", "must not be the username")
    return password


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# A fixed hash verified when the username is unknown, so a login takes the same time either way.
DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + _b64(bytes(32))


def session_fingerprint(password_hash: str) -> str:
    """Short tag of the current password hash kept in the session: a password change or a disable
    (checked separately) ends every existing session of that user."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


LOCKOUT_AFTER = 5        # consecutive failed logins ...
LOCKOUT_S = 60.0         # ... lock the account for this long after the last failure


def locked_out(failed_logins: int, last_failed_at: float | None, now: float) -> float:
    """Seconds the account stays locked (0 = may try): after LOCKOUT_AFTER consecutive failures, each new
    attempt must wait LOCKOUT_S after the last failure. Slows password guessing to ~5 a minute per user."""
    if failed_logins < LOCKOUT_AFTER or last_failed_at is None:
        return 0.0
    return max(0.0, LOCKOUT_S - (now - last_failed_at))


def generate_password() -> str:
    return secrets.token_urlsafe(12)
