"""Sync dashboards: central's per-site view and the edge's sync panel (thin Flask blueprints).

Views only read ``CentralSync.status()`` / ``EdgeSync.status()``; no SQL, no rules here.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template


def central_blueprint(sync, *, refresh_s: int = 3) -> Blueprint:
    """`/sync` (dashboard), `/sync/status.json`, `/sync/events.json` for a running CentralSync."""
    bp = Blueprint("sync_dashboard", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/sync/static")

    @bp.get("/sync")
    def dashboard():
        st = sync.status()
        online = sum(1 for s in st["sites"].values() if s["online"] and not s["stale"])
        stale = sum(1 for s in st["sites"].values() if s["stale"])
        return render_template("sync/central.html", st=st, recent=sync.recent(20), online=online, stale=stale,
                               refresh_s=refresh_s)

    @bp.get("/sync/status.json")
    def status_json():
        return jsonify(sync.status())

    @bp.get("/sync/events.json")
    def events_json():
        return jsonify(sync.recent(100))

    return bp


def edge_blueprint(sync, *, refresh_s: int = 3) -> Blueprint:
    """`/sync` (panel) and `/sync/status.json` for a running EdgeSync."""
    bp = Blueprint("edge_sync", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/sync/static")

    @bp.get("/sync")
    def panel():
        return render_template("sync/edge.html", st=sync.status(), refresh_s=refresh_s)

    @bp.get("/sync/status.json")
    def status_json():
        return jsonify(sync.status())

    return bp
