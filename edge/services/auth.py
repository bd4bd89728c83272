"""Users, PINs and signed session tokens (no server-side session table: HMAC over user|role|expiry)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time

from edge import store as db
from edge.errors import AuthError, InvalidState
from edge.services.base import ROLES, Actor, Service

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2 ** 12, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_pin(pin: str, stored: str) -> bool:
    try:
        _algo, salt_b64, digest_b64 = stored.split("$")
        salt = base64.b64decode(salt_b64)
    except ValueError:
        return False
    expected = hash_pin(pin, salt).split("$")[2]
    return hmac.compare_digest(expected, digest_b64)


class Auth(Service):
    TOKEN_CACHE_MAX = 1024

    def __init__(self, floor):
        super().__init__(floor)
        self._secret = None
        # token -> (username, role, zone, expires) of tokens whose signature was already checked:
        # every handheld scan presents the same token, so the HMAC is computed once per session.
        self._verified: dict[str, tuple[str, str, str, int]] = {}

    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = self.store.read(lambda c: db.meta_get(c, "secret")).encode()
        return self._secret

    def add_user(self, username: str, name: str, role: str, pin: str, zone: str | None = None, actor: Actor | None = None) -> None:
        if not USERNAME_RE.match(username or ""):
            raise InvalidState("username: 2-32 lower-case letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise InvalidState(f"role must be one of {', '.join(ROLES)}")
        if not (pin and pin.isdigit() and 4 <= len(pin) <= 12) and len(pin or "") < 8:
            raise InvalidState("PIN: 4-12 digits (or a password of 8+ characters)")
        pin_hash = hash_pin(pin)
        who = actor.username if actor else "cli"

        def fn(conn):
            db.user_insert(conn, username, name or username, role, pin_hash, zone)
            db.audit(conn, user=who, action="user.add", ok=True, subject=f"user:{username}", detail={"role": role, "zone": zone})
        self.store.write(fn)

    def login(self, username: str, pin: str, device: str = "web") -> tuple[str, Actor]:
        user = self.store.read(lambda c: db.user_get(c, str(username or "").strip().lower()))
        if user is None or not user["active"] or not check_pin(str(pin or ""), user["pin_hash"]):
            err = AuthError("unknown user or wrong PIN", next="Scan your badge and enter your PIN")
            self.refused(Actor(str(username)[:32], "unknown"), "auth.login", f"user:{str(username)[:32]}", err, None, None)
            raise err
        actor = Actor(user["username"], user["role"], user["zone"], device)
        expires = int(time.time() + self.cfg.session_hours * 3600)
        payload = f"{actor.username}|{actor.role}|{actor.zone or ''}|{expires}"
        sig = hmac.new(self.secret(), payload.encode(), hashlib.sha256).hexdigest()[:32]
        token = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=") + "." + sig
        self.store.write(lambda c: db.audit(c, user=actor.username, action="auth.login", ok=True,
                                            subject=f"user:{actor.username}", detail={"device": device}))
        return token, actor

    def verify(self, token: str | None, device: str = "web") -> Actor:
        if not token or "." not in token:
            raise AuthError("log in first", next="Scan your badge")
        hit = self._verified.get(token)
        if hit is not None:
            username, role, zone, expires = hit
            if expires < time.time():
                raise AuthError("session expired", next="Log in again")
            return Actor(username, role, zone or None, device)
        body, sig = token.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
            username, role, zone, expires = payload.split("|")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthError("invalid session", next="Log in again") from exc
        good = hmac.new(self.secret(), payload.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(good, sig):
            raise AuthError("invalid session", next="Log in again")
        if int(expires) < time.time():
            raise AuthError("session expired", next="Log in again")
        if len(self._verified) >= self.TOKEN_CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (username, role, zone, int(expires))
        return Actor(username, role, zone or None, device)
