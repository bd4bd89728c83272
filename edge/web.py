"""The edge's web app: scan-driven JSON API for handhelds and the console, plus the two pages.

Views are thin: they authenticate, call one service method and turn its dict (or its typed error)
into JSON. Every JSON answer carries ``ok`` and ``next`` (what the operator does now).
"""
from __future__ import annotations

import json
import re
import time
from http import HTTPStatus

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request
from werkzeug.http import parse_cookie

from edge import store as db
from edge.errors import AuthError, BadRequest, EdgeError
from edge.services import Floor
from edge.services.base import audit_refusal

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

    app.wsgi_app = ServerTiming(HandheldScans(app, app.wsgi_app))

    @app.errorhandler(EdgeError)
    def _edge_error(exc: EdgeError):
        if exc.user is None and not isinstance(exc, AuthError):
            try:
                exc.user = actor().username  # refused before the view knew who it was (e.g. a bad body)
            except EdgeError:
                pass
        audit_at_boundary(app.extensions["floorsync_edge"]["floor"], request.method, request.path, exc)
        return jsonify(error_body(exc)), exc.http_status

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


class ServerTiming:
    """WSGI middleware around the whole Flask app: ``X-Server-Time-Ms`` / ``Server-Timing`` cover
    everything the app does for a request (request context, routing, auth, the view and its
    write, JSON encoding), from the WSGI call until the response is ready to send. Only the HTTP
    server's own parsing/writing and any wait for a free request thread lie outside (the bench
    reports the client round trip beside it). Also marks every answer ``Cache-Control: no-store``."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        t0 = time.perf_counter()

        def timed_start_response(status, headers, exc_info=None):
            ms = f"{(time.perf_counter() - t0) * 1000:.3f}"
            headers = [h for h in headers if h[0].lower() != "cache-control"]
            headers += [("X-Server-Time-Ms", ms), ("Server-Timing", f"app;dur={ms}"), ("Cache-Control", "no-store")]
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, timed_start_response)


class HandheldScans:
    """WSGI fast path for the handheld's scan requests (``POST /api/pick/<run>/scan`` and
    ``POST /api/pack/<fo>/scan``), the hottest requests on the floor: same token check, same
    service call (``SCAN_ROUTES``), same JSON and typed errors as the Flask views below, without
    Flask's per-request machinery (request context, URL map, response object: ~0.15 ms of a
    scan's ~1 ms of server CPU). Anything else, and any request it does not fully understand
    (no Content-Length, large body), goes to Flask unchanged."""

    MAX_BODY = 64 * 1024

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            path = environ.get("PATH_INFO", "")
            for (prefix, suffix), handler in SCAN_ROUTES.items():
                if path.startswith(prefix) and path.endswith(suffix):
                    key = path[len(prefix):-len(suffix)]
                    length = environ.get("CONTENT_LENGTH") or ""
                    if key and "/" not in key and length.isdigit() and int(length) <= self.MAX_BODY:
                        return self._serve(environ, start_response, handler, key, int(length))
                    break
        return self.wsgi_app(environ, start_response)

    def _serve(self, environ, start_response, handler, key: str, length: int):
        f = self.app.extensions["floorsync_edge"]["floor"]
        try:
            data = json_object(environ["wsgi.input"].read(length) if length else b"")
            who = f.auth.verify(bearer_token(environ.get("HTTP_AUTHORIZATION", ""), environ.get("HTTP_COOKIE")),
                                (environ.get("HTTP_X_DEVICE") or "web")[:40])
            payload = handler(f, who, key, data)
            status = 200 if payload.get("ok", True) else 409
        except EdgeError as exc:
            audit_at_boundary(f, environ.get("REQUEST_METHOD", "POST"), environ.get("PATH_INFO", ""), exc)
            payload, status = error_body(exc), exc.http_status
        out = (self.app.json.dumps(payload) + "\n").encode()
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]


# ---------------------------------------------------------------- helpers

def audit_at_boundary(f: Floor, method: str, path: str, exc: EdgeError) -> None:
    """Every refusal a handheld sees is in the audit log: the services audit the ones they raise;
    what is refused before a service runs (a role check, a malformed body) is audited here. Session
    errors are not: a wrong PIN is audited by the login itself (``auth.login``), and a missing or
    expired session is the login screen, not an action."""
    if exc.audited or isinstance(exc, AuthError):
        return
    audit_refusal(f.store, exc.user, f"{method} {path}"[:120], None, exc)


def error_body(exc: EdgeError) -> dict:
    return {"ok": False, "error": exc.code, "message": exc.message, "next": exc.next or "Try again"}


def bearer_token(authorization: str, cookie_header: str | None) -> str | None:
    """The session token: ``Authorization: Bearer <token>``, else the ``fs_token`` cookie."""
    token = authorization[7:].strip() if authorization.startswith("Bearer ") else None
    if not token and cookie_header:
        token = parse_cookie(cookie_header).get("fs_token")
    return token or None


def json_object(raw: bytes) -> dict:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data

def floor() -> Floor:
    return current_app.extensions["floorsync_edge"]["floor"]


def actor():
    token = bearer_token(request.headers.get("Authorization", ""), request.headers.get("Cookie"))
    device = (request.headers.get("X-Device") or "web")[:40]
    return floor().auth.verify(token, device)


def body() -> dict:
    # get_data() reads the body once; ``request.data``/``get_json`` would first run werkzeug's
    # form parser (a measurable share of a pick scan's CPU on the hot path).
    return json_object(request.get_data(cache=True))


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


def _pick_scan(f: Floor, who, run_id: str, data: dict) -> dict:
    return f.picking.scan(who, run_id, arg(data, "code"), task_id=arg(data, "task_id"), qty=arg(data, "qty"))


@api.post("/pick/<run_id>/scan")
def pick_scan(run_id):   # served by HandheldScans; this view answers what the fast path hands over
    data = body()
    return ok(_pick_scan(floor(), actor(), run_id, data))


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


def _pack_scan(f: Floor, who, fo_id: str, data: dict) -> dict:
    return f.packing.scan_item(who, fo_id, arg(data, "code"), qty=arg(data, "qty"))


@api.post("/pack/<fo_id>/scan")
def pack_scan(fo_id):   # served by HandheldScans; this view answers what the fast path hands over
    data = body()
    return ok(_pack_scan(floor(), actor(), fo_id, data))


# the handheld scan requests HandheldScans serves without Flask: (path prefix, suffix) -> handler
SCAN_ROUTES = {("/api/pick/", "/scan"): _pick_scan, ("/api/pack/", "/scan"): _pack_scan}


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


@api.get("/manifests")
def manifests():
    rows = floor().shipping.manifests(actor())
    open_ = [m["carrier"] for m in rows if m["status"] == "open"]
    return ok({"ok": True, "manifests": rows,
               "next": (f"Close the {', '.join(open_)} manifest(s) when the truck is loaded" if open_
                        else "Nothing open: manifests open with the day's first shipment")})


@api.get("/manifests/<manifest_id>")
def manifest_view(manifest_id):
    return ok({"ok": True, **floor().shipping.manifest(manifest_id, actor()), "next": "Hand the parcels to the driver"})


MANIFEST_CSV_COLUMNS = ("manifest_id", "carrier", "ship_date", "order_id", "fo_id", "carton_seq", "carton",
                        "tracking_number", "service", "weight_g", "shipped_at")


@api.get("/manifests/<manifest_id>/manifest.csv")
def manifest_csv(manifest_id):
    """The manifest as CSV, one row per parcel (what a carrier's pickup system or a spreadsheet takes)."""
    import csv
    import io

    m = floor().shipping.manifest(manifest_id, actor())
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(MANIFEST_CSV_COLUMNS)
    for p in m["shipments"]:
        w.writerow([m["manifest_id"], m["carrier"], m["day"], p["order_id"], p["fo_id"], p["carton_seq"], p["carton"] or "",
                    p["tracking_number"], p["service"], p["weight_g"] or 0, p["shipped_at"]])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={_file_safe(m['manifest_id'])}.csv"})


@api.get("/manifests/<manifest_id>/manifest.pdf")
def manifest_pdf(manifest_id):
    f = floor()
    pdf = f.shipping.manifest_pdf(actor(), manifest_id)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename={_file_safe(manifest_id)}.pdf"})


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(name))[:80]


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


# ---------------------------------------------------------------- QC of quarantined receipts

@api.get("/qc")
def qc_list():
    actor().require("receiver")
    rows = floor().qc.pending()
    return ok({"ok": True, "receipts": rows, "recent": floor().qc.recent(20),
               "next": f"Inspect receipt {rows[0]['receipt_id']} ({rows[0]['pending']} x {rows[0]['sku']})" if rows
               else "Nothing waiting in quarantine"})


@api.get("/qc/<receipt_id>")
def qc_inspect(receipt_id):
    return ok(floor().qc.inspect(actor(), receipt_id))


@api.post("/qc/<receipt_id>/release")
def qc_release(receipt_id):
    data = body()
    return ok(floor().qc.release(actor(), receipt_id, arg(data, "code"), qty=arg(data, "qty")))


@api.post("/qc/<receipt_id>/reject")
def qc_reject(receipt_id):
    data = body()
    return ok(floor().qc.reject(actor(), receipt_id, str(arg(data, "reason", "")), str(arg(data, "disposition", "scrap")),
                                qty=arg(data, "qty")))


# ---------------------------------------------------------------- scheduled cycle counts, waves, cartons

@api.get("/counts/due")
def counts_due():
    return ok(floor().counting.due(actor()))


@api.get("/counts/schedules")
def count_schedules():
    actor().require("counter")
    rows = floor().counting.schedules()
    return ok({"ok": True, "schedules": rows, "next": "Add a schedule" if not rows else "Review the schedules"})


@api.post("/counts/schedules")
def count_schedule_add():
    data = body()
    return ok(floor().counting.add_schedule(actor(), str(arg(data, "schedule_id", "")), str(arg(data, "scope", "")),
                                            str(arg(data, "target", "")), arg(data, "every_days")))


@api.delete("/counts/schedules/<schedule_id>")
def count_schedule_remove(schedule_id):
    return ok(floor().counting.remove_schedule(actor(), schedule_id))


@api.post("/counts/schedule")
def counts_schedule_run():
    return ok(floor().counting.schedule_due(actor()))


@api.get("/waves/next")
def wave_next():
    return ok(floor().waves.preview(actor()))


@api.post("/pack/<fo_id>/close-carton")
def pack_close_carton(fo_id):
    data = body()
    return ok(floor().packing.close_carton(actor(), fo_id, arg(data, "code"), grams=arg(data, "grams")))


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

