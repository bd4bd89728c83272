"""The edge's web app: scan-driven JSON API for handhelds and the console, plus the two pages.

Views are thin: they authenticate, call one service method and turn its dict (or its typed error)
into JSON. Every JSON answer carries ``ok`` and ``next`` (what the operator does now).
"""
from __future__ import annotations

import json
import time

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request

from edge import store as db
from edge.errors import BadRequest, EdgeError
from edge.services import Floor

api = Blueprint("edge_api", __name__, url_prefix="/api")
pages = Blueprint("edge_pages", __name__)


def create_app(cfg, store, *, floor: Floor | None = None, weight_source=None, print_queue=None,
               extra_blueprints=(), health_fn=None) -> Flask:
    """Flask app factory: ``cfg`` is the loaded Config, ``store`` the EdgeStore."""
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions["floorsync_edge"] = {
        "cfg": cfg, "store": store,
        "floor": floor or Floor(cfg, store, weight_source=weight_source, print_queue=print_queue),
        "health_fn": health_fn,
    }
    app.register_blueprint(api)
    app.register_blueprint(pages)
    for bp in extra_blueprints:
        app.register_blueprint(bp)

    @app.before_request
    def _start_timer():
        g.t0 = time.perf_counter()

    @app.after_request
    def _server_time(resp):
        ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
        resp.headers["X-Server-Time-Ms"] = f"{ms:.3f}"
        resp.headers["Server-Timing"] = f"app;dur={ms:.3f}"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(EdgeError)
    def _edge_error(exc: EdgeError):
        body = {"ok": False, "error": exc.code, "message": exc.message, "next": exc.next or "Try again"}
        return jsonify(body), exc.http_status

    @app.errorhandler(404)
    def _not_found(exc):
        if request.path.startswith("/api/"):
            return jsonify({"ok": False, "error": "not_found", "message": f"no endpoint {request.path}", "next": "Reload"}), 404
        return exc

    @app.get("/healthz")
    def healthz():
        st = store.read(lambda c: {"outbox": db.outbox_depth(c), "site_id": db.meta_get(c, "site_id")})
        body = {"ok": True, "site_id": st["site_id"], "outbox_depth": st["outbox"]}
        if health_fn is not None:
            body["sync"] = health_fn()
        return jsonify(body)

    return app


# ---------------------------------------------------------------- helpers

def floor() -> Floor:
    return current_app.extensions["floorsync_edge"]["floor"]


def actor():
    token = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
    token = token or request.cookies.get("fs_token")
    device = (request.headers.get("X-Device") or "web")[:40]
    return floor().auth.verify(token, device)


def body() -> dict:
    # get_data() reads the body once; ``request.data``/``get_json`` would first run werkzeug's
    # form parser (a measurable share of a pick scan's CPU on the hot path).
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def arg(data: dict, key: str, default=None):
    v = data.get(key, default)
    if isinstance(v, str) and len(v) > 600:
        raise BadRequest(f"{key}: too long")
    return v


def ok(payload: dict, status: int | None = None):
    if status is None:
        status = 200 if payload.get("ok", True) else 409
    return jsonify(payload), status


# ---------------------------------------------------------------- auth

@api.post("/login")
def login():
    data = body()
    token, who = floor().auth.login(str(arg(data, "username", "")), str(arg(data, "pin", "")),
                                    str(arg(data, "device", "web"))[:40])
    resp = jsonify({"ok": True, "token": token, "username": who.username, "role": who.role, "zone": who.zone,
                    "next": "Start picking" if who.role == "picker" else "Scan a tote or order"})
    resp.set_cookie("fs_token", token, httponly=True, samesite="Strict")
    return resp


@api.get("/me")
def me():
    a = actor()
    return ok({"ok": True, "username": a.username, "role": a.role, "zone": a.zone, "next": "Ready"})


# ---------------------------------------------------------------- picking

@api.post("/pick/start")
def pick_start():
    data = body()
    return ok(floor().picking.start(actor(), method=arg(data, "method"), zone=arg(data, "zone"), fo_id=arg(data, "fo_id")))


@api.get("/pick/<run_id>")
def pick_view(run_id):
    return ok(floor().picking.view(actor(), run_id))


@api.post("/pick/<run_id>/scan")
def pick_scan(run_id):
    data = body()
    return ok(floor().picking.scan(actor(), run_id, arg(data, "code"), task_id=arg(data, "task_id"), qty=arg(data, "qty")))


@api.post("/pick/<run_id>/short")
def pick_short(run_id):
    data = body()
    return ok(floor().picking.short(actor(), run_id, task_id=arg(data, "task_id")))


@api.post("/pick/putback")
def pick_putback():
    data = body()
    return ok(floor().picking.put_back(actor(), str(arg(data, "fo_id", "")), arg(data, "code")))


# ---------------------------------------------------------------- packing and shipping

@api.post("/pack/start")
def pack_start():
    return ok(floor().packing.start(actor(), arg(body(), "code")))


@api.get("/pack/<fo_id>")
def pack_view(fo_id):
    actor()
    return ok(floor().packing.get(fo_id))


@api.post("/pack/<fo_id>/scan")
def pack_scan(fo_id):
    data = body()
    return ok(floor().packing.scan_item(actor(), fo_id, arg(data, "code"), qty=arg(data, "qty")))


@api.post("/pack/<fo_id>/carton")
def pack_carton(fo_id):
    return ok(floor().packing.carton(actor(), fo_id, arg(body(), "code")))


@api.post("/pack/<fo_id>/weigh")
def pack_weigh(fo_id):
    return ok(floor().packing.weigh(actor(), fo_id, grams=arg(body(), "grams")))


@api.post("/pack/<fo_id>/override")
def pack_override(fo_id):
    return ok(floor().packing.override(actor(), fo_id, str(arg(body(), "reason", ""))))


@api.post("/ship/<fo_id>/confirm")
def ship_confirm(fo_id):
    return ok(floor().shipping.confirm(actor(), fo_id, arg(body(), "code")))


@api.post("/ship/manifests/<carrier>/close")
def manifest_close(carrier):
    return ok(floor().shipping.close_manifest(actor(), carrier))


# ---------------------------------------------------------------- receiving, counts, transfers, returns

@api.post("/receive")
def receive():
    data = body()
    return ok(floor().receiving.receive(actor(), arg(data, "code"), qty=arg(data, "qty"), asn_id=arg(data, "asn_id")))


@api.get("/receive/asns")
def asns():
    actor()
    return ok({"ok": True, "asns": floor().receiving.open_asns(), "putaways": floor().receiving.pending_putaways(),
               "next": "Scan an item to receive"})


@api.post("/receive/<receipt_id>/putaway")
def putaway(receipt_id):
    return ok(floor().receiving.put_away(actor(), receipt_id, arg(body(), "code")))


@api.get("/count/<location>")
def count_task(location):
    return ok(floor().counting.task(actor(), location))


@api.post("/count/<location>")
def count_submit(location):
    data = body()
    return ok(floor().counting.submit(actor(), location, arg(data, "code"), arg(data, "counted"),
                                      reason=str(arg(data, "reason", "cycle count"))[:200]))


@api.post("/adjust/<location>")
def adjust(location):
    data = body()
    return ok(floor().counting.adjust(actor(), location, arg(data, "code"), arg(data, "delta"), str(arg(data, "reason", ""))))


@api.post("/transfers/<transfer_id>/ship")
def transfer_ship(transfer_id):
    return ok(floor().transfers.ship(actor(), transfer_id))


@api.post("/transfers/<transfer_id>/receive")
def transfer_receive(transfer_id):
    data = body()
    return ok(floor().transfers.receive(actor(), transfer_id, arg(data, "code"), qty=arg(data, "qty")))


@api.post("/returns")
def return_receive():
    data = body()
    return ok(floor().returns.receive(actor(), arg(data, "code"), qty=arg(data, "qty"), rma_id=arg(data, "rma_id"),
                                      order_id=arg(data, "order_id")))


@api.post("/returns/<return_id>/grade")
def return_grade(return_id):
    data = body()
    return ok(floor().returns.grade(actor(), return_id, str(arg(data, "grade", "")), bin_code=arg(data, "code")))


# ---------------------------------------------------------------- console data

@api.get("/console")
def console_data():
    a = actor()
    a.require("manager")
    return ok(floor().console_summary())


@api.post("/print/<job_id>/reprint")
def reprint(job_id):
    return ok(floor().reprint(actor(), job_id, str(arg(body(), "reason", ""))))


@api.get("/audit")
def audit():
    a = actor()
    a.require("manager")
    subject = request.args.get("subject")
    rows = floor().store.read(lambda c: db.audit_rows(c, subject=subject, limit=200))
    return ok({"ok": True, "rows": rows, "next": "Review"})


# ---------------------------------------------------------------- pages

@pages.get("/")
def index():
    return redirect("/console")


@pages.get("/handheld")
def handheld():
    return render_template("handheld.html", site_id=floor().site_id)


@pages.get("/console")
def console():
    return render_template("console.html", site_id=floor().site_id)

