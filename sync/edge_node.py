"""The edge's sync runtime: up-stream outbox pump, down-stream inbox, presence, heartbeats, digests.

One worker thread owns all sync state. paho's callbacks only enqueue (``sync.transport``); the
worker drains that queue, applies down envelopes through ``EdgeStore.write`` (the inbox row, the
effect and the cursor in one transaction), publishes outbox rows at QoS 1 within a bounded window,
retires rows only when central's application-level ack arrives, and answers gaps with resends.
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections import Counter
from typing import Any, Callable

from floorsync.log import log_event
from sync import crashpoints, edge_journal
from sync.core import control, topics
from sync.core.envelope import Envelope, EnvelopeError, Parked, Rejected, decode_batch, encode_batch, utc_now_iso
from sync.core.sequencer import BUFFERED, DUPLICATE, READY, Sequencer, SendWindow
from sync.transport import Inbound, Transport

logger = logging.getLogger("sync.edge")


def _default_apply(conn, env):
    from edge.sync_handlers import apply_down_event

    return apply_down_event(conn, env)


def _default_digest(conn):
    from edge import store as edge_db
    from edge.sync_handlers import inventory_digest

    merchants = edge_db.merchant_ids(conn)
    if not merchants:
        return None
    return merchants[0], inventory_digest(conn)


def _handler_errors() -> tuple[type, ...]:
    try:
        from edge.errors import EdgeError
    except ImportError:  # pragma: no cover - edge not installed
        return (ValueError,)
    return (EdgeError, ValueError)


def _age_s(iso: str | None) -> float:
    if not iso:
        return 0.0
    try:
        t = _dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(0.0, (_dt.datetime.now(_dt.timezone.utc) - t).total_seconds())


class EdgeSync:
    """``EdgeSync(cfg, edge_store, health_fn)`` with ``start()``, ``stop()``, ``status()``."""

    def __init__(self, cfg, edge_store, health_fn: Callable[[], dict] | None = None, *,
                 apply_fn: Callable | None = None, digest_fn: Callable | None = None):
        self.cfg = cfg
        self.scfg = cfg.sync
        self.store = edge_store
        self.site = edge_store.site_id
        self.health_fn = health_fn or (lambda: {})
        self.apply_fn = apply_fn or _default_apply
        self.digest_fn = digest_fn if digest_fn is not None else _default_digest
        self.handler_errors = _handler_errors()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.transport: Transport | None = None
        self.rejected: Counter = Counter()
        self.counters: Counter = Counter()
        self._parked_seen: set[tuple[int | None, str | None]] = set()
        self._last_resend_req = 0.0
        self._central_lost: dict | None = None  # set while central asks for events we retired
        # reconnect gate: until central's queued down commands are applied (bounded in time)
        self._gate_until: float | None = None
        self._catchup_target: int | None = None
        self._last_heartbeat = 0.0
        self._last_digest = 0.0
        self._digest_due = True
        self._connected_at: float | None = None
        self._retire_times: list[tuple[float, int]] = []
        self._stats: dict[str, Any] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        crashpoints.arm_from_env()

        def load(conn):
            session = edge_journal.next_session(conn)
            stats = edge_journal.outbox_stats(conn)
            down_epoch, down_applied = edge_journal.inbox_cursor(conn)
            return (session, edge_journal.meta(conn, "epoch"), int(edge_journal.meta(conn, "epoch_base") or 0), stats,
                    down_epoch, down_applied, edge_journal.retired_down_epochs(conn))

        (self.session, self.epoch, self.epoch_base, stats, down_epoch, down_applied,
         retired) = self.store.write(load)
        acked = (stats["min_seq"] - 1) if stats["min_seq"] is not None else max(stats["last_seq"], self.epoch_base)
        acked = max(acked, self.epoch_base)
        self.window = SendWindow(acked=acked, next_seq=acked + 1,
                                 max_inflight=self.scfg.max_inflight * self.scfg.batch_size,
                                 ack_timeout_s=self.scfg.ack_timeout_s)
        self.seq_down = Sequencer(down_epoch, down_applied, set(retired), max_ahead=self.scfg.max_ahead)
        self._stats = dict(stats)
        b = self.cfg.broker
        self.transport = Transport(b, client_id=f"floorsync-edge-{self.site}",
                                   subscriptions=topics.edge_subscriptions(self.site),
                                   will=(topics.state(self.site), control.presence("offline", self.session)))
        self.transport.start()
        self._thread = threading.Thread(target=self._run, name=f"edge-sync-{self.site}", daemon=True)
        self._thread.start()
        log_event(logger, "edge_sync_started", site_id=self.site, session=self.session, epoch=self.epoch,
                  outbox_depth=stats["depth"], down_applied=down_applied)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.transport is not None:
            if self.transport.connected:
                info = self.transport.client.publish(topics.state(self.site),
                                                     control.presence("offline", self.session, utc_now_iso()),
                                                     qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError):
                    pass
            self.transport.stop()
        log_event(logger, "edge_sync_stopped", site_id=self.site)

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.transport.drain(self._handle, limit=500)
                self._apply_ready()  # everything offered from this drain, in as few transactions as possible
                self._tick()
            except Exception as exc:  # noqa: BLE001 - the worker must survive; the cause is logged
                log_event(logger, "edge_sync_error", level=logging.ERROR, site_id=self.site, error=repr(exc))
                self.counters["errors"] += 1
                time.sleep(0.2)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once connected and subscribed (tests and the demo wait on this before sending)."""
        return self._ready.wait(timeout)

    def _handle(self, item: Inbound) -> None:
        if item.kind == "subscribed":
            self._ready.set()
            return
        if item.kind == "connected":
            self._connected_at = time.monotonic()
            self._catchup_target = None
            self._gate_until = self._connected_at + self.scfg.reconnect_gate_s
            self.counters["connects"] += 1
            self.transport.publish(topics.state(self.site), control.presence("online", self.session, utc_now_iso()),
                                   retain=True)
            self._send_hello()
            self.window.rewind()  # catch up from central's acknowledged cursor
            self._digest_due = True
            log_event(logger, "edge_sync_connected", site_id=self.site, session=self.session,
                      outbox_pending=self.window.next_seq)
            return
        if item.kind == "disconnected":
            self._ready.clear()
            self._connected_at = None
            self._gate_until = None  # offline: the floor works on what it has
            log_event(logger, "edge_sync_disconnected", level=logging.WARNING, site_id=self.site, detail=item.detail)
            return
        parsed = topics.parse(item.topic)
        if parsed is None or parsed[0] != self.site:
            self._reject("bad_batch", f"message on foreign topic {item.topic[:80]}")
            return
        sub = parsed[1]
        if sub == "ack/up":
            self._on_ack(item.payload)
        elif sub.startswith("down/"):
            self._on_down(item.payload)

    def _send_hello(self) -> None:
        self.transport.publish(topics.up_hello(self.site), control.hello(
            epoch=self.epoch, epoch_base=self.epoch_base, session=self.session, down_epoch=self.seq_down.epoch,
            down_applied=self.seq_down.applied))

    def _reject(self, reason: str, detail: str, seq: int | None = None) -> None:
        self.rejected[reason] += 1
        log_event(logger, "sync_rejected", level=logging.WARNING, site_id=self.site, stream="down", reason=reason,
                  seq=seq, detail=detail[:300])

    # ---- up stream: central's ack retires rows
    def _on_ack(self, payload: bytes) -> None:
        try:
            ack = control.parse_control(payload, "ack")
        except EnvelopeError as exc:
            self._reject(exc.reason, str(exc))
            return
        if ack["stream"] != "up" or ack["epoch"] != self.epoch:
            self.counters["acks_other_epoch"] += 1
            if ack["stream"] == "up":
                self._send_hello()  # central has not adopted our epoch yet
            return
        seq = ack["seq"]
        now = time.monotonic()
        if self._gate_until is not None and self._catchup_target is None and ack.get("down_head") is not None:
            self._catchup_target = ack["down_head"]
        if seq > self.window.next_seq - 1 and seq > self.store.read(edge_journal.last_seq):
            self._restored_without_new_epoch(seq)
            return
        if seq > self.window.acked:
            def retire(conn):
                n = edge_journal.retire(conn, seq)
                crashpoints.hit("during_ack_handling")
                return n
            n = self.store.write(retire)
            self.window.on_ack(seq, now)
            self._retire_times.append((now, n))
            self.counters["retired"] += n
        if ack.get("resend_from"):
            self.counters["resend_requests"] += 1
            if ack["resend_from"] <= self.window.acked:
                self._central_lost_retired(ack["resend_from"])
            else:
                self.window.on_resend(ack["resend_from"], time.monotonic())
        elif seq >= self.window.acked:
            self._central_lost = None

    def _central_lost_retired(self, wanted: int) -> None:
        """Central asks for seqs it acknowledged earlier and we already retired: its database lost
        applied events (restored from an older backup, or replaced). We cannot resend what we no longer
        hold, and skipping ahead silently would hide the loss, so raise it on both dashboards (the
        heartbeat carries it) and keep sending from what we still have."""
        first = self._central_lost is None or self._central_lost["wanted_from"] != wanted
        self._central_lost = {"wanted_from": wanted, "retired_through": self.window.acked,
                              "message": f"central asks to resend from seq {wanted}, but seqs up to "
                                         f"{self.window.acked} were confirmed by central earlier and retired here: "
                                         "central's database lost applied events — restore it or re-baseline "
                                         "this site's stock (see the drift check)"}
        self.counters["central_lost_retired"] += 1
        if first:
            log_event(logger, "central_lost_retired_events", level=logging.ERROR, site_id=self.site,
                      wanted_from=wanted, retired_through=self.window.acked)

    def _restored_without_new_epoch(self, central_seq: int) -> None:
        """Central has applied seqs this database never allocated: it was restored from an older copy.
        Start a new epoch so no seq central has seen is reused; pending rows go again under it."""
        def fn(conn):
            epoch = edge_journal.new_epoch(conn)
            return epoch, int(edge_journal.meta(conn, "epoch_base") or 0)
        self.epoch, self.epoch_base = self.store.write(fn)
        self.window.acked = self.epoch_base
        self.window.rewind()
        self.counters["epochs_started"] += 1
        log_event(logger, "edge_restore_detected", level=logging.ERROR, site_id=self.site, central_applied=central_seq,
                  new_epoch=self.epoch, base_seq=self.epoch_base)
        self._send_hello()

    # ---- down stream: apply in order, exactly once
    def _on_down(self, payload: bytes) -> None:
        try:
            batch = decode_batch(payload, max_bytes=self.scfg.max_payload_bytes, expect_stream="down",
                                 expect_site=self.site)
        except EnvelopeError as exc:
            self._reject(exc.reason, str(exc))
            return
        sq = self.seq_down
        if sq.epoch is None:
            sq.adopt_epoch(batch.epoch, batch.epoch_base)
        for it in batch.items:
            if isinstance(it, Rejected):
                self._reject(it.error.reason, str(it.error), it.seq)
            elif isinstance(it, Parked):
                self._park(it)
            else:
                verdict = sq.offer(it.epoch, it.seq, it)
                if verdict == DUPLICATE:
                    self.counters["duplicates"] += 1
                elif verdict not in (READY, BUFFERED):
                    self._reject(verdict, f"down seq {it.seq} epoch {it.epoch}", it.seq)

    def _park(self, it: Parked) -> None:
        key = (it.seq, it.event_id)
        if key not in self._parked_seen:
            self.store.write(lambda c: edge_journal.park(c, "down", it.seq, it.event_id, "schema_newer",
                                                         f"schema {it.schema} is newer than this node", it.raw))
            self._parked_seen.add(key)
            log_event(logger, "sync_parked", level=logging.WARNING, site_id=self.site, seq=it.seq, schema=it.schema)
        self.rejected["schema_newer"] += 1

    def _apply_ready(self) -> None:
        sq = self.seq_down
        while True:
            ready: list[Envelope] = sq.take_ready(limit=2000)
            if not ready:
                break
            epoch = sq.epoch
            apply_fn, errors = self.apply_fn, self.handler_errors

            def fn(conn):
                applied = parked = dups = 0
                for env in ready:
                    conn.execute("SAVEPOINT env")
                    try:
                        if not edge_journal.inbox_record(conn, env):
                            dups += 1
                            conn.execute("RELEASE env")
                            continue
                        apply_fn(conn, env)
                        conn.execute("RELEASE env")
                        applied += 1
                    except errors as exc:
                        conn.execute("ROLLBACK TO env")
                        conn.execute("RELEASE env")
                        edge_journal.inbox_record(conn, env, status="parked", detail=str(exc))
                        edge_journal.park(conn, "down", env.seq, env.event_id, "apply_failed", str(exc), env.to_dict())
                        parked += 1
                edge_journal.set_inbox_cursor(conn, epoch, ready[-1].seq)
                return applied, parked, dups

            try:
                applied, parked, dups = self.store.write(fn)
            except Exception as exc:  # noqa: BLE001 - store failure: keep them pending, retry later
                sq.put_back((e.seq, e) for e in ready)
                log_event(logger, "edge_apply_failed", level=logging.ERROR, site_id=self.site, error=repr(exc))
                self.counters["apply_errors"] += 1
                return
            sq.applied_through(ready[-1].seq)
            self.counters["applied"] += applied
            self.counters["parked"] += parked
            self.counters["duplicates"] += dups
            if parked:
                log_event(logger, "sync_parked", level=logging.WARNING, site_id=self.site, stream="down", count=parked)
            self._send_ack()

    def _send_ack(self, resend_from: int | None = None) -> None:
        sq = self.seq_down
        if sq.epoch is None:
            return
        self.transport.publish(topics.ack_down(self.site), control.ack(stream="down", epoch=sq.epoch, seq=sq.applied,
                                                                        resend_from=resend_from))

    # ---- periodic work
    def _tick(self) -> None:
        now = time.monotonic()
        connected = self.transport.connected
        if connected:
            gap = self.seq_down.resend_from()
            if gap is not None and now - self._last_resend_req > 0.3:
                self._last_resend_req = now
                self.counters["resend_requested"] += 1
                self._send_ack(resend_from=gap)
            self.window.check_timeout(now)
            self._pump(now)
            if now - self._last_heartbeat >= self.scfg.heartbeat_s:
                self._heartbeat(now)
            if self.digest_fn and (self._digest_due or now - self._last_digest >= self.scfg.digest_interval_s):
                self._digest(now)

    def _pump(self, now: float) -> None:
        w = self.window
        room = w.room()
        if room <= 0:
            return
        rows = self.store.read(lambda c: edge_journal.outbox_from(c, w.next_seq, min(room, self.scfg.batch_size * 10)))
        if not rows:
            return
        crashpoints.hit("after_commit_before_publish")
        bs = self.scfg.batch_size
        for i in range(0, len(rows), bs):
            chunk = rows[i:i + bs]
            if not self.transport.publish(topics.up_events(self.site), encode_batch(chunk, epoch_base=self.epoch_base)):
                return
            w.sent_through(chunk[-1].seq, now)
            self.counters["published"] += len(chunk)
        crashpoints.hit("after_publish_before_ack")

    def _heartbeat(self, now: float) -> None:
        self._last_heartbeat = now
        stats = self.store.read(edge_journal.outbox_stats)
        self._stats = dict(stats)
        if stats["depth"]:
            log_event(logger, "sync_catchup_progress", site_id=self.site, stream="up",
                      **self.status(stats)["up"]["progress"])
        try:
            devices = dict(self.health_fn() or {})
        except Exception as exc:  # noqa: BLE001 - a broken health probe must not stop sync
            devices = {"error": repr(exc)[:200]}
        self.transport.publish(topics.up_heartbeat(self.site), control.heartbeat(
            session=self.session, at=utc_now_iso(), outbox_depth=stats["depth"],
            outbox_oldest_age_s=_age_s(stats["oldest_at"]), down_applied=self.seq_down.applied,
            up_last_seq=stats["last_seq"], devices=devices, interval_s=self.scfg.heartbeat_s,
            alert=self._central_lost["message"] if self._central_lost else None))

    def _digest(self, now: float) -> None:
        self._digest_due = False
        self._last_digest = now
        digest_fn = self.digest_fn

        def fn(conn):
            got = digest_fn(conn)
            if got is None:
                return None
            merchant, balances = got
            return edge_journal.emit(conn, "inventory.digest",
                                     {"as_of_seq": edge_journal.last_seq(conn), "balances": dict(balances)},
                                     merchant_id=merchant)
        try:
            env = self.store.write(fn)
        except Exception as exc:  # noqa: BLE001
            log_event(logger, "edge_digest_failed", level=logging.WARNING, site_id=self.site, error=repr(exc))
            return
        if env is not None:
            self.counters["digests"] += 1

    def floor_gate(self) -> str | None:
        """Why new floor work (a pick run, a pack start) should wait, or None (called from request threads)."""
        why = control.catchup_gate(self._gate_until, time.monotonic(), self._catchup_target,
                                   self.seq_down.applied)
        if why is None and self._gate_until is not None:
            self._gate_until = None  # caught up (or waited long enough): no more checks until the next reconnect
        return why

    # ------------------------------------------------------------------ status
    def status(self, stats: dict | None = None) -> dict:
        stats = stats or self.store.read(edge_journal.outbox_stats)
        now = time.monotonic()
        recent = [(t, n) for t, n in self._retire_times if now - t <= 10]
        self._retire_times = recent
        rate = sum(n for _, n in recent) / 10.0 if recent else 0.0
        depth = stats["depth"]
        return {
            "site_id": self.site,
            "connected": bool(self.transport and self.transport.connected),
            "session": getattr(self, "session", None),
            "epoch": getattr(self, "epoch", None),
            "up": {"outbox_depth": depth, "oldest_age_s": round(_age_s(stats["oldest_at"]), 1),
                   "last_seq": stats["last_seq"], "acked_seq": self.window.acked, "inflight": self.window.inflight(),
                   "published": self.counters["published"], "resend_requests": self.counters["resend_requests"],
                   "progress": {"behind": depth, "rate_per_s": round(rate, 1),
                                "eta_s": (round(depth / rate, 1) if rate > 0 else (0.0 if depth == 0 else None))}},
            "down": {"applied_seq": self.seq_down.applied, "epoch": self.seq_down.epoch,
                     "buffered": self.seq_down.buffered, "applied": self.counters["applied"],
                     "duplicates": self.counters["duplicates"], "parked": self.counters["parked"]},
            "rejected": dict(self.rejected),
            "counters": dict(self.counters),
            "central_lost": self._central_lost,
        }

    def blueprint(self):
        """The edge's sync panel (`/sync`, `/sync/status.json`) for the edge web app."""
        from sync.web import edge_blueprint

        return edge_blueprint(self)
