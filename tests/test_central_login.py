"""Dashboard login on SQLite AND PostgreSQL: ops users, the session cookie shared by every worker,
expiry, disabled users and password changes ending sessions, the API and /healthz left alone."""
from __future__ import annotations

import copy
import time

import pytest

from central.core import accounts
from central.errors import Conflict, NotFound, ValidationFailed
from central.services import CentralService, Locked
from central.web import create_app
from floorsync import config as config_mod
from tests.fixtures_central import *  # noqa: F401,F403
from tests.fixtures_central import CATALOG

PASSWORD = "correct-horse-battery"


@pytest.fixture
def svc_users(central_store):
    svc = CentralService(central_store)
    svc.seed_catalog(copy.deepcopy(CATALOG))
    svc.add_ops_user("olga", PASSWORD, "Olga Ops")
    return svc


def _app(svc, **central):
    cfg = config_mod.load(env={})
    if central:
        cfg = cfg.replace("central", **central)
    return create_app(cfg, svc.store, service=svc)


def _login(client, user="olga", password=PASSWORD, nxt="/ops/orders"):
    return client.post("/login", data={"username": user, "password": password, "next": nxt})


def test_password_hashing_is_scrypt_salted_and_constant_time_checked():
    h1, h2 = accounts.hash_password(PASSWORD), accounts.hash_password(PASSWORD)
    assert h1 != h2 and h1.startswith("scrypt$16384$8$1$") and PASSWORD not in h1
    assert accounts.verify_password(PASSWORD, h1) and accounts.verify_password(PASSWORD, h2)
    assert not accounts.verify_password(PASSWORD + "x", h1)
    assert not accounts.verify_password(PASSWORD, "plain-text") and not accounts.verify_password(PASSWORD, "")
    assert not accounts.verify_password("", accounts.DUMMY_HASH)
    fixed = accounts.hash_password("pw-0123456789", salt=bytes(16))
    assert fixed == accounts.hash_password("pw-0123456789", salt=bytes(16))


def test_ops_users_in_the_store(svc_users):
    svc = svc_users
    with pytest.raises(Conflict):
        svc.add_ops_user("olga", "another-password")
    with pytest.raises(ValidationFailed) as e:
        svc.add_ops_user("Olga Ops", PASSWORD)
    assert list(e.value.fields) == ["username"]
    with pytest.raises(ValidationFailed) as e:
        svc.add_ops_user("kim", "kim")
    assert e.value.fields == {"password": "must be at least 10 characters"}
    with pytest.raises(ValidationFailed) as e:
        svc.add_ops_user("kimberly-x", "kimberly-x")
    assert e.value.fields == {"password": "must not be the username"}
    with pytest.raises(NotFound):
        svc.set_ops_user_active("nobody", False)
    [u] = svc.list_ops_users()
    assert (u["username"], u["name"], u["active"], u["last_login_at"], u["failed_logins"]) == (
        "olga", "Olga Ops", True, None, 0)
    assert svc.ops_login("olga", "wrong-password") is None
    assert svc.ops_login("nobody", PASSWORD) is None
    assert svc.get_ops_user("olga")["failed_logins"] == 1
    ok = svc.ops_login(" OLGA ", PASSWORD)   # usernames are lower-case; stray spaces are ignored
    assert ok["username"] == "olga" and len(ok["fingerprint"]) == 16
    after = svc.get_ops_user("olga")
    assert after["failed_logins"] == 0 and after["last_login_at"] is not None
    assert svc.ops_session_user("olga", ok["fingerprint"])["name"] == "Olga Ops"
    svc.set_ops_user_active("olga", False)
    assert svc.ops_session_user("olga", ok["fingerprint"]) is None
    assert svc.ops_login("olga", PASSWORD) is None
    svc.set_ops_user_active("olga", True)
    svc.set_ops_user_password("olga", "a-new-password-1")
    assert svc.ops_session_user("olga", ok["fingerprint"]) is None     # a password change ends old sessions
    assert svc.ops_login("olga", "a-new-password-1") is not None


def test_login_logout_and_what_stays_open(svc_users):
    client = _app(svc_users).test_client()
    r = client.get("/ops/orders?status=released")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/ops/orders?status%3Dreleased"
    r = client.get("/login?next=/ops/orders?status%3Dreleased")
    assert r.status_code == 200 and b'name="next" value="/ops/orders?status=released"' in r.data
    assert client.get("/ops/orders.csv").status_code == 401
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/orders").get_json()["error"]["code"] == "unauthorized"   # Bearer keys, not cookies
    assert client.get("/ops/static/ops.css").status_code == 200

    bad = _login(client, password="nope-nope-nope")
    assert bad.status_code == 401 and b"Wrong username or password" in bad.data
    r = _login(client, nxt="/ops/orders?status=released")
    assert r.status_code == 302 and r.headers["Location"] == "/ops/orders?status=released"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("floorsync_central=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/ops/orders")
    assert page.status_code == 200 and b"Olga Ops" in page.data and b"Log out" in page.data
    assert client.get("/ops/orders.csv").status_code == 200
    assert client.get("/login").headers["Location"] == "/ops/orders"    # already logged in
    r = client.post("/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert client.get("/ops/orders").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)",
                                    "/\\evil.example"])
def test_next_never_leaves_the_site(svc_users, target):
    client = _app(svc_users).test_client()
    assert _login(client, nxt=target).headers["Location"] == "/ops/orders"


def test_the_session_secret_is_shared_by_every_worker_and_config_wins(svc_users):
    first, second = _app(svc_users), _app(svc_users)        # two workers on one database
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 48
    c1 = first.test_client()
    _login(c1)
    cookie = c1.get_cookie("floorsync_central").value
    c2 = second.test_client()
    c2.set_cookie("floorsync_central", cookie)
    assert c2.get("/ops/orders").status_code == 200
    configured = _app(svc_users, session_secret="a-configured-secret-0123456789")
    assert configured.secret_key == "a-configured-secret-0123456789"
    c3 = configured.test_client()
    c3.set_cookie("floorsync_central", cookie)                 # signed with the other secret: refused
    assert c3.get("/ops/orders").status_code == 302
    c3.set_cookie("floorsync_central", "forged.cookie.value")
    assert c3.get("/ops/orders").status_code == 302


def test_session_expires_and_a_disabled_user_is_logged_out(svc_users):
    client = _app(svc_users, session_hours=1 / 3600).test_client()     # one second
    _login(client)
    assert client.get("/ops/orders").status_code == 200
    time.sleep(2.2)   # the cookie's signed timestamp has whole seconds: > 1 s old for sure
    assert client.get("/ops/orders").status_code == 302
    client = _app(svc_users).test_client()
    _login(client)
    svc_users.set_ops_user_active("olga", False)
    r = client.get("/ops/orders")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_session_settings_are_validated():
    from central.config import CentralConfig

    with pytest.raises(ValueError, match="session_secret"):
        CentralConfig(session_secret="short").validate()
    with pytest.raises(ValueError, match="session_hours"):
        CentralConfig(session_hours=0).validate()
    CentralConfig(session_secret="x" * 16, session_hours=8).validate()


def test_five_failed_logins_lock_the_account_for_a_minute(svc_users):
    svc = svc_users
    t0 = time.time()
    for _ in range(5):
        assert svc.ops_login("olga", "wrong-password", now=t0) is None
    with pytest.raises(Locked) as e:          # even the right password waits
        svc.ops_login("olga", PASSWORD, now=t0 + 1)
    assert (e.value.status, e.value.code) == (429, "login_locked")
    assert e.value.message.startswith("too many failed logins: try again in ")
    assert svc.get_ops_user("olga")["failed_logins"] == 5
    assert svc.ops_login("olga", PASSWORD, now=time.time() + 61)["username"] == "olga"
    assert svc.get_ops_user("olga")["failed_logins"] == 0
    # through the login page: a readable 429
    client = _app(svc).test_client()
    for _ in range(5):
        assert _login(client, password="wrong-password").status_code == 401
    r = _login(client)
    assert r.status_code == 429 and b"Too many failed logins: try again in " in r.data
    assert accounts.locked_out(5, 100.0, 130.0) == 30.0 and accounts.locked_out(4, 100.0, 101.0) == 0.0
