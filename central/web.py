"""Central's web service: REST API under /api/v1, the ops order dashboard under /ops, /healthz.

Views are thin: they parse the request, call ``CentralService`` and render JSON or a template.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import hmac
import json
import os
import secrets
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from central.core import lifecycle as lc
from central.core import validation as v
from central.errors import CentralError, Forbidden, ValidationFailed
from central.services import CentralService
from central.store import CentralStore

SCOPE_RANK = {"read": 0, "write": 1, "admin": 2}
_HERE = os.path.dirname(os.path.abspath(__file__))


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message}
    if fields:
        err["fields"] = fields
    return {"error": err}


def create_app(cfg, store: CentralStore, *, service: CentralService | None = None) -> Flask:
    app = Flask("central", template_folder=os.path.join(_HERE, "templates"),
                static_folder=os.path.join(_HERE, "static"), static_url_path="/ops/static")
    app.config["MAX_CONTENT_LENGTH"] = cfg.central.max_body_bytes
    app.json.sort_keys = False
    svc = service or CentralService(store, max_sync_lag_s=getattr(cfg.central, "max_sync_lag_s", 900.0))
    app.extensions["central_service"] = svc
    app.register_blueprint(api_blueprint(svc))
    app.register_blueprint(ops_blueprint(svc))
    install_login(app, cfg, svc)
    from central.routing.web import register_routing  # checkout promise + coverage API (routing package)
    register_routing(app, svc)

    @app.get("/")
    def home():
        # Central's front page is the ops order dashboard.
        return redirect(url_for("ops.orders"))

    @app.get("/healthz")
    def healthz():
        try:
            version = store.schema_version()
        except Exception as exc:  # noqa: BLE001 - health reports any database failure
            return jsonify({"status": "error", "error": str(exc)}), 503
        return jsonify({"status": "ok", "schema_version": version, "database": store.dialect})

    @app.errorhandler(CentralError)
    def central_error(exc: CentralError):
        if request.path.startswith("/ops"):
            return render_template("ops_error.html", status=exc.status, message=exc.message), exc.status
        return jsonify(error_body(exc.code, exc.message, exc.fields)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request",
                 415: "unsupported_media_type"}
        if request.path.startswith("/api/") or exc.code == 413:
            msg = exc.description or exc.name
            if exc.code == 413:
                msg = f"request body larger than {cfg.central.max_body_bytes} bytes"
            return jsonify(error_body(codes.get(exc.code or 500, "http_error"), msg)), exc.code
        return exc

    return app


# ---------------------------------------------------------------------- dashboard login
# Paths that need no dashboard login: health, the API (Bearer API keys), the login page, static files.
_OPEN_PATHS = ("/healthz", "/login", "/logout")
_OPEN_PREFIXES = ("/api/", "/ops/static/")


def _safe_next(target: str | None) -> str:
    """Only a local path may be the after-login destination (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/ops/orders"
    return target


def install_login(app: Flask, cfg, svc: CentralService) -> None:
    """Every page of central except /healthz and /api/v1 needs an ops user's login: the order dashboard,
    the CSV export and blueprints registered later (the /sync dashboard). Signed session cookie (HttpOnly,
    SameSite=Lax), secret from ``central.session_secret`` or generated once and kept in the database."""
    app.secret_key = svc.session_secret(getattr(cfg.central, "session_secret", ""))
    app.config.update(SESSION_COOKIE_NAME="floorsync_central", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=bool(getattr(cfg.central, "session_cookie_secure", False)),
                      PERMANENT_SESSION_LIFETIME=_dt.timedelta(hours=getattr(cfg.central, "session_hours", 12.0)))

    def session_user() -> dict | None:
        name, tag = session.get("u"), session.get("f")
        if not isinstance(name, str) or not isinstance(tag, str):
            return None
        return svc.ops_session_user(name, tag)

    @app.before_request
    def require_login():
        path = request.path
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            return None
        user = session_user()
        if user is not None:
            g.ops_user = user
            return None
        session.clear()
        if path.endswith((".json", ".csv")) or request.method != "GET" or request.accept_mimetypes.best == "application/json":
            return jsonify(error_body("login_required", "log in to the central dashboard first (/login)")), 401
        return redirect(url_for("login", next=request.full_path.rstrip("?")))

    @app.context_processor
    def ops_user_in_templates():
        return {"ops_user": g.get("ops_user"), "csrf_token": session.get("csrf", "")}

    @app.route("/login", methods=["GET", "POST"])
    def login():
        nxt = _safe_next(request.values.get("next"))
        if request.method == "GET":
            if session_user() is not None:
                return redirect(nxt)
            return render_template("ops_login.html", next=nxt, error=None, username="")
        username = (request.form.get("username") or "").strip()
        try:
            user = svc.ops_login(username, request.form.get("password") or "")
        except CentralError as exc:   # locked after too many failures
            return render_template("ops_login.html", next=nxt, username=username[:64],
                                   error=exc.message[:1].upper() + exc.message[1:] + "."), exc.status
        if user is None:
            return render_template("ops_login.html", next=nxt, username=username[:64],
                                   error="Wrong username or password, or the account is disabled."), 401
        session.clear()
        session.permanent = True
        session["u"], session["f"] = user["username"], user["fingerprint"]
        session["csrf"] = secrets.token_urlsafe(24)   # echoed by every dashboard form that changes something
        return redirect(nxt)

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))


# ---------------------------------------------------------------------- API
def _json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ValidationFailed("request body is empty", {"body": "a JSON object is required"})
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"malformed JSON: {exc}", {"body": f"malformed JSON: {exc}"}) from exc


def _optional_json_body() -> Any:
    raw = request.get_data(cache=True)
    return _json_body() if raw.strip() else {}


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        val = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer", {name: "must be an integer"}) from None
    if not lo <= val <= hi:
        raise ValidationFailed(f"{name} out of range", {name: f"must be between {lo} and {hi}"})
    return val


def _date_arg(name: str) -> str | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return _dt.date.fromisoformat(raw).isoformat()
        parsed = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{name} must be a date or datetime", {name: "must be YYYY-MM-DD or ISO 8601"}) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_filters() -> dict:
    f: dict[str, Any] = {}
    errs = {}
    known = {"status", "channel", "site", "service", "created_from", "created_to", "q", "limit", "cursor", "merchant"}
    for k in request.args:
        if k not in known:
            errs[k] = "unknown query parameter"
    status = request.args.get("status")
    if status:
        wanted = status.split(",")
        bad = [s for s in wanted if s not in lc.STATUSES]
        if bad:
            errs["status"] = f"must be one of {', '.join(lc.STATUSES)}"
        f["status"] = wanted if len(wanted) > 1 else wanted[0]
    service = request.args.get("service")
    if service:
        if service not in v.SERVICES:
            errs["service"] = f"must be one of {', '.join(v.SERVICES)}"
        f["service"] = service
    for key, max_len in (("channel", 40), ("site", 12), ("q", 120)):
        val = request.args.get(key)
        if val:
            if len(val) > max_len or any(ord(c) < 32 for c in val):
                errs[key] = f"must be at most {max_len} printable characters"
            f[key] = val
    if errs:
        raise ValidationFailed("invalid query", errs)
    f["created_from"] = _date_arg("created_from")
    f["created_to"] = _date_arg("created_to")
    return f


def api_blueprint(svc: CentralService) -> Blueprint:
    bp = Blueprint("api", __name__, url_prefix="/api/v1")

    @bp.before_request
    def authenticate():
        if request.endpoint == "api.openapi":
            return None
        key = svc.api_key_for(request.headers.get("Authorization", ""))
        g.merchant_id = key["merchant_id"]
        g.scope = key["scope"]
        g.actor = f"api:{key['key_id']}"
        return None

    def needs(scope: str):
        def deco(fn):
            @wraps(fn)
            def inner(*a, **kw):
                if SCOPE_RANK[g.scope] < SCOPE_RANK[scope]:
                    raise Forbidden(f"this API key has scope {g.scope!r}; {scope!r} is required")
                return fn(*a, **kw)
            return inner
        return deco

    @bp.get("/openapi.json")
    def openapi():
        from central.openapi import spec
        return jsonify(spec())

    # ---- orders
    @bp.post("/orders")
    @needs("write")
    def create_order():
        order, created = svc.create_order(g.merchant_id, _json_body(), actor=g.actor)
        return jsonify(order), 201 if created else 200

    @bp.get("/orders")
    @needs("read")
    def list_orders():
        filters = order_filters()
        limit = _int_arg("limit", 50, 1, 200)
        items, nxt = svc.list_orders(g.merchant_id, filters, limit=limit, cursor=request.args.get("cursor") or None)
        return jsonify({"items": items, "next_cursor": nxt})

    @bp.get("/orders/<order_id>")
    @needs("read")
    def get_order(order_id):
        return jsonify(svc.get_order(g.merchant_id, order_id))

    @bp.get("/orders/<order_id>/events")
    @needs("read")
    def order_events(order_id):
        return jsonify({"items": svc.order_timeline(g.merchant_id, order_id)})

    @bp.post("/orders/<order_id>/cancel")
    @needs("write")
    def cancel(order_id):
        body = _reason()
        return jsonify(svc.cancel_order(g.merchant_id, order_id, body["reason"], actor=g.actor))

    @bp.post("/orders/<order_id>/hold")
    @needs("write")
    def hold(order_id):
        body = _reason(required=True)
        return jsonify(svc.hold_order(g.merchant_id, order_id, body["reason"], actor=g.actor))

    @bp.post("/orders/<order_id>/release")
    @needs("write")
    def release(order_id):
        body = _reason()
        return jsonify(svc.release_order(g.merchant_id, order_id, body["reason"], actor=g.actor))

    @bp.post("/orders/<order_id>/address")
    @needs("write")
    def address(order_id):
        return jsonify(svc.edit_address(g.merchant_id, order_id, _json_body(), actor=g.actor))

    @bp.post("/orders/<order_id>/service")
    @needs("write")
    def service(order_id):
        return jsonify(svc.change_service(g.merchant_id, order_id, _json_body(), actor=g.actor))

    @bp.post("/orders/<order_id>/split")
    @needs("write")
    def split(order_id):
        return jsonify(svc.split_order(g.merchant_id, order_id, _json_body(), actor=g.actor))

    @bp.post("/orders/<order_id>/replacement")
    @needs("write")
    def replacement(order_id):
        order, created = svc.create_replacement(g.merchant_id, order_id, _json_body(), actor=g.actor)
        return jsonify(order), 201 if created else 200

    @bp.post("/orders/import")
    @needs("write")
    def import_orders():
        raw = request.get_data(cache=True)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("CSV must be UTF-8", {"body": "not UTF-8"}) from exc
        if not text.strip():
            raise ValidationFailed("empty CSV", {"body": "a CSV with a header row is required"})
        return jsonify(svc.import_orders_csv(g.merchant_id, text, actor=g.actor))

    # ---- inventory
    @bp.get("/inventory")
    @needs("read")
    def inventory_list():
        limit = _int_arg("limit", 100, 1, 500)
        return jsonify({"items": svc.list_inventory(g.merchant_id, after=request.args.get("after", ""),
                                                    limit=limit)})

    @bp.get("/inventory/<sku>")
    @needs("read")
    def inventory_sku(sku):
        return jsonify(svc.inventory_for_sku(g.merchant_id, sku))

    @bp.get("/inventory/<sku>/ledger")
    @needs("read")
    def inventory_ledger(sku):
        limit = _int_arg("limit", 200, 1, 1000)
        rows = svc.ledger(g.merchant_id, sku, request.args.get("site") or None, limit=limit)
        items = [{"id": r["id"], "ts": r["ts"], "site_id": r["site_id"], "cause": r["cause"], "actor": r["actor"],
                  "ref": r["ref"], "d_on_hand": r["d_on_hand"], "d_reserved": r["d_reserved"],
                  "d_in_transit": r["d_in_transit"], "d_quarantine": r["d_quarantine"],
                  "on_hand_before": r["on_hand_after"] - r["d_on_hand"], "on_hand_after": r["on_hand_after"],
                  "reserved_after": r["reserved_after"]} for r in rows]
        return jsonify({"sku": sku, "items": items})

    @bp.post("/inventory/<sku>/sites/<site_id>/adjust")
    @needs("write")
    def inventory_adjust(sku, site_id):
        return jsonify(svc.adjust_inventory(g.merchant_id, sku, site_id, _json_body(), actor=g.actor))

    # ---- sites + skus
    @bp.get("/sites")
    @needs("read")
    def sites():
        return jsonify({"items": svc.list_sites(g.merchant_id)})

    @bp.get("/sites/<site_id>")
    @needs("read")
    def site(site_id):
        return jsonify(svc.get_site(g.merchant_id, site_id))

    @bp.get("/sites/<site_id>/closures")
    @needs("read")
    def site_closures(site_id):
        return jsonify(svc.site_closures(g.merchant_id, site_id))

    @bp.put("/sites/<site_id>/closures")
    @needs("admin")
    def site_closures_put(site_id):
        return jsonify(svc.set_site_closures(g.merchant_id, site_id, _json_body(), actor=g.actor))

    @bp.get("/skus")
    @needs("read")
    def skus():
        limit = _int_arg("limit", 100, 1, 500)
        return jsonify({"items": svc.list_skus(g.merchant_id, after=request.args.get("after", ""), limit=limit)})

    @bp.post("/skus")
    @needs("write")
    def sku_create():
        item, created = svc.upsert_sku(g.merchant_id, _json_body())
        return jsonify(item), 201 if created else 200

    @bp.post("/skus/bulk")
    @needs("write")
    def sku_bulk():
        return jsonify(svc.bulk_upsert_skus(g.merchant_id, _json_body()))

    @bp.get("/skus/<sku>")
    @needs("read")
    def sku_get(sku):
        return jsonify(svc.get_sku(g.merchant_id, sku))

    @bp.put("/skus/<sku>")
    @needs("write")
    def sku_put(sku):
        item, created = svc.upsert_sku(g.merchant_id, _json_body(), sku=sku)
        return jsonify(item), 201 if created else 200

    # ---- transfers
    @bp.get("/transfers")
    @needs("read")
    def transfers():
        return jsonify({"items": svc.list_transfers(g.merchant_id)})

    @bp.post("/transfers")
    @needs("write")
    def transfer_create():
        return jsonify(svc.create_transfer(g.merchant_id, _json_body(), actor=g.actor)), 201

    @bp.get("/transfers/<transfer_id>")
    @needs("read")
    def transfer_get(transfer_id):
        return jsonify(svc.get_transfer(g.merchant_id, transfer_id))

    @bp.post("/transfers/<transfer_id>/ship")
    @needs("write")
    def transfer_ship(transfer_id):
        return jsonify(svc.transfer_step(g.merchant_id, transfer_id, "ship", actor=g.actor))

    @bp.post("/transfers/<transfer_id>/receive")
    @needs("write")
    def transfer_receive(transfer_id):
        return jsonify(svc.transfer_step(g.merchant_id, transfer_id, "receive", actor=g.actor))

    # ---- webhooks + alerts
    @bp.get("/webhooks")
    @needs("admin")
    def webhooks():
        return jsonify({"items": svc.list_webhooks(g.merchant_id)})

    @bp.post("/webhooks")
    @needs("admin")
    def webhook_create():
        hook = svc.subscribe_webhook(g.merchant_id, _json_body())
        return jsonify({k: hook[k] for k in ("webhook_id", "url", "events", "secret", "active", "created_at")}), 201

    @bp.delete("/webhooks/<webhook_id>")
    @needs("admin")
    def webhook_delete(webhook_id):
        svc.delete_webhook(g.merchant_id, webhook_id)
        return "", 204

    @bp.get("/webhooks/<webhook_id>/deliveries")
    @needs("admin")
    def webhook_deliveries(webhook_id):
        return jsonify({"items": svc.webhook_deliveries(g.merchant_id, webhook_id)})

    @bp.get("/alerts")
    @needs("read")
    def alerts():
        return jsonify({"items": svc.list_alerts(g.merchant_id)})

    def _reason(required: bool = False) -> dict:
        try:
            return v.validate_reason(_optional_json_body(), required=required)
        except v.Invalid as exc:
            raise ValidationFailed(str(exc), exc.fields) from exc

    return bp


# ---------------------------------------------------------------------- ops dashboard
STATUS_ORDER = ("received", "routed", "allocated", "released", "picking", "packed", "partially_shipped", "shipped",
                "delivered", "backordered", "on_hold", "exception", "cancelled")


def ops_blueprint(svc: CentralService) -> Blueprint:
    bp = Blueprint("ops", __name__, url_prefix="/ops")

    def filters_from_args() -> tuple[str | None, dict]:
        merchant = request.args.get("merchant") or None
        try:
            f = order_filters()
        except ValidationFailed:
            f = {}
        return merchant, {k: val for k, val in f.items() if val}

    @bp.get("/")
    def index():
        return redirect(url_for("ops.orders"))

    @bp.get("/orders")
    def orders():
        merchant, f = filters_from_args()
        limit = 50
        items, nxt = svc.list_orders(merchant, f, limit=limit, cursor=request.args.get("cursor") or None)
        counts = svc.status_counts(merchant, f)
        with svc.store.read() as conn:
            merchants = svc.store.list_merchants(conn)
        args = {k: val for k, val in request.args.items() if k != "cursor"}
        return render_template("ops_orders.html", items=items, next_cursor=nxt, counts=counts,
                               status_order=STATUS_ORDER, total=sum(counts.values()), args=args,
                               merchants=merchants, sites=svc.list_sites(None), services=v.SERVICES,
                               csv_url=url_for("ops.orders_csv", **args))

    @bp.get("/orders.csv")
    def orders_csv():
        merchant, f = filters_from_args()
        out = io.StringIO()
        w = csv.writer(out)
        cols = ["order_id", "merchant_id", "channel", "channel_order_id", "status", "service", "ship_to_name",
                "units", "sites", "promised_date", "created_at", "updated_at"]
        w.writerow(cols)
        cursor = None
        for _ in range(200):  # at most 200 pages x 200 = 40k rows per export
            items, cursor = svc.list_orders(merchant, f, limit=200, cursor=cursor)
            for it in items:
                w.writerow([it[c] for c in cols])
            if not cursor:
                break
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=orders.csv"})

    @bp.get("/orders/<order_id>")
    def order_detail(order_id):
        order = svc.get_order(None, order_id)
        events = svc.order_timeline(None, order_id)
        return render_template("ops_order.html", o=order, events=events, actions=lc.ops_actions(order["status"]),
                               notice=session.pop("notice", None))

    @bp.post("/orders/<order_id>/action")
    def order_action(order_id):
        """Hold, release or cancel from the order page, as the logged-in ops user (timeline: ``ops:<user>``)."""
        sent, expected = request.form.get("csrf") or "", session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent, expected):
            raise Forbidden("the form is stale or came from another site; reload the page and try again")
        order = svc.get_order(None, order_id)
        action, reason = request.form.get("action"), (request.form.get("reason") or "").strip()
        actor = f"ops:{g.ops_user['username']}"
        try:
            if action not in ("hold", "release", "cancel"):
                raise ValidationFailed("unknown action", {"action": "must be hold, release or cancel"})
            if action in ("hold", "cancel") and not reason:
                raise ValidationFailed(f"say why you {action} this order", {"reason": "is required"})
            if action == "hold":
                done = svc.hold_order(order["merchant_id"], order_id, reason, actor=actor)
            elif action == "release":
                done = svc.release_order(order["merchant_id"], order_id, reason, actor=actor)
            else:
                done = svc.cancel_order(order["merchant_id"], order_id, reason, actor=actor)
            session["notice"] = {"ok": True, "text": f"{action.capitalize()}: the order is now {done['status']}."}
        except CentralError as exc:
            session["notice"] = {"ok": False, "text": exc.message[:1].upper() + exc.message[1:] + "."}
        return redirect(url_for("ops.order_detail", order_id=order_id))

    # ---- network inventory (per merchant: consolidated per SKU, per site, and the ledger behind it)
    INVENTORY_COLUMNS = ("sku", "on_hand", "reserved", "available", "in_transit", "quarantine", "backordered")

    def inventory_merchant():
        with svc.store.read() as conn:
            merchants = svc.store.list_merchants(conn)
        ids = [m["merchant_id"] for m in merchants]
        wanted = request.args.get("merchant") or ""
        return (wanted if wanted in ids else (ids[0] if ids else None)), merchants

    @bp.get("/inventory")
    def inventory():
        merchant, merchants = inventory_merchant()
        after = (request.args.get("after") or "")[:64]
        limit = 100
        rows = svc.list_inventory(merchant, after=after, limit=limit + 1) if merchant else []
        more = len(rows) > limit
        rows = rows[:limit]
        return render_template("ops_inventory.html", merchant=merchant, merchants=merchants, rows=rows,
                               next_after=rows[-1]["sku"] if more else None, after=after,
                               csv_url=url_for("ops.inventory_csv", merchant=merchant) if merchant else None)

    @bp.get("/inventory.csv")
    def inventory_csv():
        merchant, _ = inventory_merchant()
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(("merchant_id",) + INVENTORY_COLUMNS)
        after = ""
        for _ in range(400):  # at most 400 pages x 500 = 200k SKUs per export
            rows = svc.list_inventory(merchant, after=after, limit=500) if merchant else []
            for r in rows:
                w.writerow([merchant] + [r[c] for c in INVENTORY_COLUMNS])
            if len(rows) < 500:
                break
            after = rows[-1]["sku"]
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=inventory-{merchant or 'none'}.csv"})

    @bp.get("/inventory/<merchant_id>/<sku>")
    def inventory_sku(merchant_id, sku):
        site = (request.args.get("site") or "")[:12] or None
        inv = svc.inventory_for_sku(merchant_id, sku)
        rows = svc.ledger(merchant_id, sku, site, limit=200)
        return render_template("ops_inventory_sku.html", merchant=merchant_id, inv=inv, ledger=rows, site=site)

    @bp.get("/sites")
    def sites():
        items = [svc.get_site(None, s["site_id"]) for s in svc.list_sites(None)]
        return render_template("ops_sites.html", sites=items)

    @bp.get("/sites/<site_id>")
    def site_detail(site_id):
        return render_template("ops_site.html", s=svc.get_site(None, site_id))

    return bp
