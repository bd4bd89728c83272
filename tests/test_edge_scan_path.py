"""The handheld scan fast path (edge.web.HandheldScans) answers exactly like the Flask views it
bypasses, and X-Server-Time-Ms (edge.web.ServerTiming) covers every answer of the app."""
from __future__ import annotations

import io
import json

import pytest

from edge.web import create_app
from tests.fixtures_edge import *  # noqa: F401,F403
from tests.fixtures_edge import audit_refusals, edge_config, gtin13, item_code, make_catalog, release, snapshot

ORDER = [("SKU-0003", 2), ("SKU-0005", 1)]


def _node(tmp_path, name: str):
    """A seeded edge (store + floor + app) with one released order, in its own directory."""
    from edge.seed import seed
    from edge.services import Floor
    from edge.store import EdgeStore
    from edge.weighing import FixedWeightSource

    d = tmp_path / name
    d.mkdir()
    cfg = edge_config(d)
    store = EdgeStore(str(d / "edge.db"), "EWR1")
    floor = Floor(cfg, store, weight_source=FixedWeightSource(0))
    seed(floor, make_catalog())
    release(store, "FO-1", ORDER)
    return store, floor, create_app(cfg, store, floor=floor)


@pytest.fixture
def node(tmp_path):
    store, floor, app = _node(tmp_path, "a")
    yield store, floor, app
    store.close()


def _flask_only(app):
    """The Flask app behind the fast path (what HandheldScans hands every other request to)."""
    return app.wsgi_app.wsgi_app.wsgi_app


def call(wsgi, method: str, path: str, body=None, *, token: str | None = None, cookie: str | None = None,
         content_length: bool = True, raw: bytes | None = None) -> tuple[int, dict, dict]:
    """One request straight into a WSGI callable; returns (status, headers, JSON body)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8100", "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_HOST": "127.0.0.1:8100", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
               "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
               "wsgi.run_once": False, "CONTENT_TYPE": "application/json", "HTTP_X_DEVICE": "hh-1"}
    if content_length:
        environ["CONTENT_LENGTH"] = str(len(data))
    else:
        environ["wsgi.input_terminated"] = True
    if token:
        environ["HTTP_AUTHORIZATION"] = "Bearer " + token
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)
    out = b"".join(wsgi(environ, start_response))
    return seen["status"], seen["headers"], json.loads(out)


def _login(app, user="picker1", pin="1111") -> str:
    status, _h, body = call(app, "POST", "/api/login", {"username": user, "pin": pin, "device": "hh-1"})
    assert status == 200
    return body["token"]


def _scrub(body: dict, run_id: str) -> str:
    """A response with the (random) run id and the tote names made from it replaced."""
    return json.dumps(body, sort_keys=True).replace(run_id, "RUN").replace(run_id[-4:], "TOTE")


def test_fast_path_answers_a_whole_pick_run_exactly_like_the_flask_view(tmp_path):
    """Two identical sites pick the same order, one through the fast path, one through Flask:
    every answer (status, JSON) and the resulting databases are the same."""
    sites = [_node(tmp_path, "fast"), _node(tmp_path, "flask")]
    try:
        apps = [sites[0][2], _flask_only(sites[1][2])]
        tokens = [_login(a) for a in apps]
        runs = [call(a, "POST", "/api/pick/start", {}, token=t)[2] for a, t in zip(apps, tokens)]
        assert _scrub(runs[0], runs[0]["run_id"]) == _scrub(runs[1], runs[1]["run_id"])
        steps = 0
        while runs[0]["task"] and steps < 20:
            t = runs[0]["task"]
            codes = ["B-99-99-9", t["location"]] if runs[0]["expect"] == "location" else [gtin13(999), item_code(t)]
            for code in codes:   # a refusal first, then the right scan
                answers = [call(a, "POST", f"/api/pick/{r['run_id']}/scan", {"code": code, "task_id": r["task"]["task_id"]},
                                token=tok) for a, r, tok in zip(apps, runs, tokens)]
                assert answers[0][0] == answers[1][0]
                assert _scrub(answers[0][2], runs[0]["run_id"]) == _scrub(answers[1][2], runs[1]["run_id"])
            runs = [answers[0][2], answers[1][2]]
            steps += 1
        assert runs[0]["done"] is True and runs[0]["next"] == "Run complete: take the totes to packing"
        assert runs[0]["progress"] == {"tasks": 2, "done": 2, "units": 3, "picked": 3}
        snaps = [snapshot(s[0]) for s in sites]
        assert snaps[0]["stock"] == snaps[1]["stock"] and snaps[0]["fo_lines"] == snaps[1]["fo_lines"]
        ledger = [[r[2:7] for r in snap["inventory_ledger"]] for snap in snaps]   # without id and timestamp
        assert ledger[0] == ledger[1] and [r[3:5] for r in ledger[0]][-3:] == [(-1, "pick")] * 3
        events = [[json.loads(r[-1]) if isinstance(r[-1], str) and r[-1].startswith("{") else None
                   for r in snap["sync_outbox"]] for snap in snaps]
        assert len(snaps[0]["sync_outbox"]) == len(snaps[1]["sync_outbox"]) and len(events[0]) == len(events[1])
        # 5 scan steps (bin, item, item, bin, item), each preceded by one refused scan, all audited
        refusals = [[r["code"] for r in audit_refusals(s[0], "pick.scan")] for s in sites]
        assert refusals[0] == refusals[1] and len(refusals[0]) == 5
        assert set(refusals[0]) == {"wrong_location", "unknown_barcode"}
    finally:
        for s in sites:
            s[0].close()


def test_fast_path_refusals_auth_and_bad_bodies_match_flask_and_change_nothing(node):
    store, floor, app = node
    flask = _flask_only(app)
    token = _login(app)
    run = call(app, "POST", "/api/pick/start", {}, token=token)[2]
    path = f"/api/pick/{run['run_id']}/scan"
    before = snapshot(store)
    cases = [
        ({"code": "B-99-99-9"}, {"token": token}, 409, "wrong_location"),
        ({"code": "B\x07AD"}, {"token": token}, 400, "invalid_scan"),
        ({"code": run["task"]["location"]}, {}, 401, "unauthorized"),
        ({"code": run["task"]["location"]}, {"token": "forged.0000"}, 401, "unauthorized"),
        ({"code": "x", "task_id": "nope"}, {"token": token}, 409, "stale_task"),
    ]
    for body, auth, status, code in cases:
        fast = call(app, "POST", path, body, **auth)
        slow = call(flask, "POST", path, body, **auth)
        assert (fast[0], fast[2]) == (slow[0], slow[2])
        assert fast[0] == status and fast[2]["error"] == code and fast[2]["ok"] is False and fast[2]["next"]
        assert fast[1]["Content-Type"] == "application/json"
    bad = [call(w, "POST", path, raw=b"not json", token=token) for w in (app, flask)]
    assert bad[0][0] == bad[1][0] == 400 and bad[0][2] == bad[1][2]
    assert bad[0][2]["message"] == "request body must be a JSON object"
    unknown = [call(w, "POST", "/api/pick/R-NOPE/scan", {"code": "B-01-01-1"}, token=token) for w in (app, flask)]
    assert unknown[0][0] == unknown[1][0] == 404 and unknown[0][2] == unknown[1][2]
    assert snapshot(store) == before   # refusals change nothing ...
    # ... and are audited, once per request either way (the two auth refusals never reach the service)
    assert sorted(r["code"] for r in audit_refusals(store, "pick.scan")) == sorted(
        ["wrong_location", "invalid_scan", "stale_task", "not_found"] * 2)


def test_session_cookie_and_requests_the_fast_path_does_not_take(node):
    store, floor, app = node
    token = _login(app)
    run = call(app, "POST", "/api/pick/start", {}, token=token)[2]
    t = run["task"]
    # the login cookie authenticates a scan as well as the bearer token does
    status, _h, body = call(app, "POST", f"/api/pick/{run['run_id']}/scan", {"code": t["location"], "task_id": t["task_id"]},
                            cookie=f"theme=dark; fs_token={token}")
    assert status == 200 and body["expect"] == "item" and body["next"].startswith(f"Scan item {t['sku']}")
    # no Content-Length (a chunked body): Flask serves it, same result
    status, headers, body = call(app, "POST", f"/api/pick/{run['run_id']}/scan", {"code": item_code(t), "task_id": t["task_id"]},
                                 token=token, content_length=False)
    assert status == 200 and body["progress"]["picked"] == 1 and float(headers["X-Server-Time-Ms"]) >= 0
    # wrong method: Flask's 405
    assert app.test_client().get(f"/api/pick/{run['run_id']}/scan").status_code == 405


def test_server_time_header_covers_every_answer(node):
    store, floor, app = node
    token = _login(app)
    run = call(app, "POST", "/api/pick/start", {}, token=token)[2]
    answers = [
        call(app, "POST", f"/api/pick/{run['run_id']}/scan", {"code": run["task"]["location"]}, token=token),   # fast path
        call(app, "GET", f"/api/pick/{run['run_id']}", token=token),                                             # Flask view
        call(app, "GET", "/api/no/such/endpoint", token=token),                                                  # Flask 404
        call(app, "POST", "/api/pick/start", {}, token=None),                                                    # typed error
    ]
    assert [a[0] for a in answers] == [200, 200, 404, 401]
    for _status, headers, _body in answers:
        ms = float(headers["X-Server-Time-Ms"])
        assert 0 < ms < 10_000
        assert headers["Server-Timing"] == f"app;dur={headers['X-Server-Time-Ms']}"
        assert headers["Cache-Control"] == "no-store"
    # the page (Flask sets its own caching headers) still carries exactly one Cache-Control
    r = app.test_client().get("/handheld")
    assert r.status_code == 200 and r.headers.getlist("Cache-Control") == ["no-store"]
