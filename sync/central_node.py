"""Central's sync runtime: up-stream inbox for every site, down-stream outbox pump, presence, health.

One worker thread owns all sync state. paho's callbacks only enqueue. For each site the worker
keeps a :class:`~sync.core.sequencer.Sequencer` (up stream, exactly once, in order) and a
:class:`~sync.core.sequencer.SendWindow` (down stream). Each ready run of up envelopes is applied
through ``central.sync_handlers.apply_up_batch`` (set-based for stock deltas) inside ONE
``CentralStore.transaction()`` together with their inbox rows and the cursor; if anything in the run
fails, the run is redone envelope by envelope with savepoints (``_apply_careful``) to consume, park or
refuse each one on its own. The ack goes out after the commit. Envelopes and bodies are checked once,
by ``decode_batch``. Down rows are retired only on the edge's application-level ack.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.exc import IntegrityError

from floorsync.log import log_event
from sync import central_journal as cj
from sync.core import control, topics
from sync.core.control import Progress, SitePresence
from sync.core.envelope import Envelope, EnvelopeError, Parked, Rejected, decode_batch, encode_batch
from sync.core.sequencer import BUFFERED, DUPLICATE, READY, Sequencer, SendWindow
from sync.transport import Inbound, Transport

logger = logging.getLogger("sync.central")


def _default_apply(conn, env):
    # decode_batch already checked the envelope and its body against the contract: not again here
    from central.sync_handlers import apply_valid_up_event

    return apply_valid_up_event(conn, env)


def _default_apply_batch():
    from central.sync_handlers import apply_up_batch

    return apply_up_batch


def _error_classes():
    try:
        from central.errors import CentralError, Forbidden
    except ImportError:  # pragma: no cover
        return (ValueError,), ()
    return (CentralError, ValueError), (Forbidden,)


@dataclass
class _Site:
    site_id: str
    seq_up: Sequencer
    window: SendWindow
    presence: SitePresence = field(default_factory=SitePresence)
    progress: Progress = field(default_factory=Progress)
    rejected: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    last_resend_req: float = 0.0
    stale: bool | None = None
    seen_since: float = 0.0
    noted: set = field(default_factory=set)
    drift_skus: int = 0
    last_drift: dict = field(default_factory=dict)
    down_head: int = 0
    down_oldest_at: str | None = None
    pending_down_ack: int = 0
    ack_due: bool = False  # duplicates arrived: the sender missed an ack, repeat it even if nothing new applies


class CentralSync:
    """``CentralSync(cfg, central_store)`` with ``start()``, ``stop()``, ``status()``."""

    def __init__(self, cfg, central_store, *, apply_fn: Callable | None = None, set_health: Callable | None = None,
                 client_id: str = "floorsync-central"):
        """``apply_fn(conn, envelope)`` defaults to ``central.sync_handlers.apply_valid_up_event`` (runs of
        ready envelopes then go through ``apply_up_batch``, set-based); ``set_health`` defaults to
        ``central_store.set_site_health`` (pass ``CentralService.set_site_health`` so routing's site cache is
        refreshed too)."""
        self.cfg = cfg
        self.scfg = cfg.sync
        self.store = central_store
        self.apply_fn = apply_fn or _default_apply
        # applies a whole ready run in the caller's transaction, returning one result per envelope
        self.apply_batch = _default_apply_batch() if apply_fn is None else (
            lambda conn, envs: [self.apply_fn(conn, e) for e in envs])
        self.set_health = set_health or central_store.set_site_health
        self.errors, self.security_errors = _error_classes()
        self.client_id = client_id
        self.sites: dict[str, _Site] = {}
        self.transport: Transport | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_pump = 0.0
        self._last_stale_check = 0.0
        self._last_progress_log = 0.0
        self._started = time.monotonic()
        self.counters: Counter = Counter()
        self._retry_at = 0.0
        self._dirty: set[str] = set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._started = time.monotonic()
        try:
            with self.store.transaction() as conn:
                for (site, stream), _cur in cj.all_cursors(conn).items():
                    if site not in self.sites:
                        self._load_site(conn, site)
                for site in cj.down_heads(conn):
                    if site not in self.sites:
                        self._load_site(conn, site)
        except Exception as exc:  # noqa: BLE001 - database not reachable yet: sites load on first contact
            self.sites.clear()
            log_event(logger, "central_sync_db_unavailable", level=logging.WARNING, error=repr(exc)[:300])
        self.transport = Transport(self.cfg.broker, client_id=self.client_id, subscriptions=topics.CENTRAL_SUBSCRIPTIONS)
        self.transport.start()
        self._thread = threading.Thread(target=self._run, name="central-sync", daemon=True)
        self._thread.start()
        log_event(logger, "central_sync_started", sites=sorted(self.sites))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.transport is not None:
            self.transport.stop()
        log_event(logger, "central_sync_stopped")

    def _load_site(self, conn, site: str) -> _Site:
        up_epoch, up_seq = cj.get_cursor(conn, site, "up")
        _down_epoch, down_seq = cj.get_cursor(conn, site, "down")
        st = _Site(site, Sequencer(up_epoch, up_seq, cj.retired_epochs(conn, site), max_ahead=self.scfg.max_ahead),
                   SendWindow(acked=down_seq, next_seq=down_seq + 1,
                              max_inflight=self.scfg.max_inflight * self.scfg.batch_size,
                              ack_timeout_s=self.scfg.ack_timeout_s))
        st.seen_since = time.monotonic()
        st.presence.interval_s = self.scfg.heartbeat_s
        self.sites[site] = st
        return st

    def _site(self, site: str) -> _Site:
        st = self.sites.get(site)
        if st is None:
            with self.store.transaction() as conn:
                st = self._load_site(conn, site)
        return st

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.transport.drain(self._handle, limit=500)
                self._flush()  # acks and applies for every site touched by this drain
                self._tick()
            except Exception as exc:  # noqa: BLE001 - the worker survives; the cause is logged
                self.counters["errors"] += 1
                log_event(logger, "central_sync_error", level=logging.ERROR, error=repr(exc)[:500])
                time.sleep(0.2)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once connected and subscribed (tests and the demo wait on this before sending)."""
        return self._ready.wait(timeout)

    def _handle(self, item: Inbound) -> None:
        if item.kind == "subscribed":
            self._ready.set()
            return
        if item.kind == "connected":
            self.counters["connects"] += 1
            for st in self.sites.values():
                st.window.rewind()
            log_event(logger, "central_sync_connected")
            return
        if item.kind == "disconnected":
            self._ready.clear()
            log_event(logger, "central_sync_disconnected", level=logging.WARNING, detail=item.detail)
            return
        parsed = topics.parse(item.topic)
        if parsed is None:
            return
        site, sub = parsed
        try:
            from sync.broker import check_site_id

            check_site_id(site)
        except Exception:  # noqa: BLE001
            self.counters["bad_topic"] += 1
            return
        st = self._site(site)
        if sub == "up/events":
            self._on_events(st, item.payload)
        elif sub == "up/hello":
            self._on_hello(st, item.payload)
        elif sub == "up/heartbeat":
            self._on_heartbeat(st, item.payload)
        elif sub == "ack/down":
            self._on_ack(st, item.payload)
        elif sub == "state":
            self._on_state(st, item.payload)

    # ---- rejections and security events
    def _reject(self, st: _Site, reason: str, detail: str, seq: int | None = None) -> None:
        log_event(logger, "sync_rejected", level=logging.WARNING, site_id=st.site_id, stream="up", reason=reason,
                  seq=seq, detail=detail[:300])
        if reason in ("wrong_site", "forbidden", "wrong_merchant"):
            log_event(logger, "security_event", level=logging.WARNING, site_id=st.site_id, reason=reason,
                      detail=detail[:300])
            key = (reason, seq, detail[:100])
            if key not in st.noted:
                try:
                    with self.store.transaction() as conn:
                        cj.record_security(conn, st.site_id, reason, detail)
                    st.noted.add(key)
                except Exception as exc:  # noqa: BLE001
                    log_event(logger, "security_event_not_stored", level=logging.ERROR, error=repr(exc))
            st.counters["security_events"] += 1
        st.rejected[reason] += 1  # counted last: what the dashboard shows is already stored

    # ---- up stream
    def _on_hello(self, st: _Site, payload: bytes) -> None:
        try:
            h = control.parse_control(payload, "hello")
        except EnvelopeError as exc:
            self._reject(st, exc.reason, str(exc))
            return
        sq = st.seq_up
        if h["epoch"] in sq.retired_epochs:
            self._reject(st, "old_epoch", f"hello from retired epoch {h['epoch']}")
            return
        if h["epoch"] != sq.epoch:
            self._adopt(st, h["epoch"], h["epoch_base"])
        st.presence.on_presence("online", h["session"])
        self._down_acked(st, h["down_applied"])
        st.window.rewind()  # the edge (re)connected: resend everything it has not acknowledged
        self._send_ack(st)

    def _adopt(self, st: _Site, epoch: str, base: int) -> None:
        with self.store.transaction() as conn:
            cj.adopt_epoch(conn, st.site_id, epoch, base)
        old = st.seq_up.epoch
        st.seq_up.adopt_epoch(epoch, base)
        log_event(logger, "sync_epoch_adopted", site_id=st.site_id, epoch=epoch, previous=old, base_seq=base)

    def _on_events(self, st: _Site, payload: bytes) -> None:
        try:
            batch = decode_batch(payload, max_bytes=self.scfg.max_payload_bytes, expect_stream="up",
                                 expect_site=st.site_id)
        except EnvelopeError as exc:
            self._reject(st, exc.reason, str(exc))
            return
        sq = st.seq_up
        refused: dict[str, list[int]] = {}
        if sq.epoch is None and batch.epoch not in sq.retired_epochs:
            # first contact and its hello was missed (sent before we subscribed): the header says where it starts
            self._adopt(st, batch.epoch, batch.epoch_base)
        elif batch.epoch != sq.epoch and batch.epoch not in sq.retired_epochs:
            # a new epoch is adopted only from a hello; ask for one (an ack naming our epoch does that)
            now = time.monotonic()
            if now - st.last_resend_req > 0.3:
                st.last_resend_req = now
                self._send_ack(st)
        for it in batch.items:
            if isinstance(it, Rejected):
                self._reject(st, it.error.reason, str(it.error), it.seq)
            elif isinstance(it, Parked):
                self._park_newer(st, it)
            else:
                verdict = sq.offer(it.epoch, it.seq, it)
                if verdict == DUPLICATE:
                    st.counters["duplicates"] += 1
                    st.ack_due = True
                elif verdict not in (READY, BUFFERED):
                    refused.setdefault(verdict, []).append(it.seq)
        for verdict, seqs in refused.items():  # one log line per reason and batch
            st.rejected[verdict] += len(seqs) - 1
            self._reject(st, verdict, f"{len(seqs)} envelope(s), seq {seqs[0]}..{seqs[-1]}, epoch {batch.epoch}",
                         seqs[0])
        self._dirty.add(st.site_id)  # applied once the inbound queue is drained (fewer, larger transactions)

    def _park_newer(self, st: _Site, it: Parked) -> None:
        key = ("parked", it.seq, it.event_id)
        if key not in st.noted:
            with self.store.transaction() as conn:
                cj.park(conn, st.site_id, "up", it.seq, it.event_id, "schema_newer",
                        f"schema {it.schema} is newer than this node; upgrade central", it.raw)
            st.noted.add(key)
            log_event(logger, "sync_parked", level=logging.WARNING, site_id=st.site_id, seq=it.seq, schema=it.schema)
        st.rejected["schema_newer"] += 1

    def _apply_ready(self, st: _Site) -> None:
        sq = st.seq_up
        if time.monotonic() < self._retry_at:
            return
        while True:
            ready: list[Envelope] = sq.take_ready(limit=1000)
            if not ready:
                if st.ack_due:
                    st.ack_due = False
                    self._send_ack(st)
                return
            fast = self._apply_fast(st, ready, sq.epoch)
            if fast is True:
                consumed, refused, refused_exc, stats = ready, None, None, Counter(applied=len(ready))
            else:
                got = None if fast is None else self._apply_careful(st, ready, sq.epoch)
                if got is None:  # database failure: nothing consumed, retry shortly
                    sq.put_back((e.seq, e) for e in ready)
                    return
                consumed, refused, refused_exc, stats = got
            if consumed:
                sq.applied_through(consumed[-1].seq)
            if refused is not None:
                sq.put_back((e.seq, e) for e in ready if e.seq > refused.seq)
                self._reject(st, "forbidden", f"seq {refused.seq} {refused.type}: {refused_exc}", refused.seq)
            now = time.monotonic()
            st.counters.update(stats)
            st.progress.on_applied(len(consumed), now)
            hb_last = st.presence.heartbeat.get("up_last_seq", 0) if st.presence.heartbeat else 0
            st.progress.set_behind(max(hb_last - sq.applied, sq.buffered), now)
            if stats["parked"]:
                log_event(logger, "sync_parked", level=logging.WARNING, site_id=st.site_id, count=stats["parked"])
            st.ack_due = False
            self._send_ack(st)
            if refused is not None:
                return

    def _apply_careful(self, st: _Site, ready: list[Envelope], epoch: str):
        """One savepoint per envelope: duplicates (same event_id) are skipped, handler refusals are parked
        (consumed, kept for ops), a security refusal stops the run without consuming that envelope."""
        consumed: list[Envelope] = []
        refused: Envelope | None = None
        refused_exc: Exception | None = None
        stats: Counter = Counter()
        try:
            with self.store.transaction() as conn:
                for env in ready:
                    try:
                        with conn.begin_nested():
                            cj.inbox_record(conn, env)
                    except IntegrityError:
                        stats["duplicates"] += 1  # same event_id consumed before (e.g. re-sent after a restore)
                        consumed.append(env)
                        continue
                    try:
                        with conn.begin_nested():
                            result = self.apply_fn(conn, env)
                    except self.security_errors as exc:
                        refused, refused_exc = env, exc
                        cj.delete_inbox_row(conn, env)  # a refused envelope is not consumed
                        break
                    except self.errors as exc:
                        cj.mark_parked(conn, env, str(exc))
                        cj.park(conn, env.site_id, "up", env.seq, env.event_id, "apply_failed", str(exc), env.to_dict())
                        stats["parked"] += 1
                    else:
                        stats["applied"] += 1
                        if env.type == "inventory.digest" and isinstance(result, dict):
                            self._note_drift(st, result.get("drift") or {}, env)
                    consumed.append(env)
                if consumed:
                    cj.set_cursor(conn, st.site_id, "up", epoch, consumed[-1].seq)
        except Exception as exc:  # noqa: BLE001 - database down or failing
            self._retry_at = time.monotonic() + 0.5
            self.counters["apply_errors"] += 1
            log_event(logger, "central_apply_failed", level=logging.ERROR, site_id=st.site_id, error=repr(exc)[:300])
            return None
        return consumed, refused, refused_exc, stats

    def _note_drift(self, st: _Site, drift: dict, env: Envelope) -> None:
        st.drift_skus = len(drift)
        if drift:
            st.last_drift = {"as_of_seq": env.body.get("as_of_seq"), "skus": drift}
            st.counters["drift_alerts"] += 1

    def _apply_fast(self, st: _Site, ready: list[Envelope], epoch: str):
        """The common case in one transaction without savepoints: True when all applied, False when
        some envelope needs the careful path (duplicate, refused or parked), None when the database failed."""
        digests = []
        try:
            with self.store.transaction() as conn:
                cj.inbox_record_many(conn, ready)
                for env, result in zip(ready, self.apply_batch(conn, ready)):
                    if env.type == "inventory.digest" and isinstance(result, dict):
                        digests.append((env, result.get("drift") or {}))
                cj.set_cursor(conn, st.site_id, "up", epoch, ready[-1].seq)
        except (IntegrityError, *self.errors, *self.security_errors):
            return False
        except Exception as exc:  # noqa: BLE001 - database down or failing: keep them, retry shortly
            self._retry_at = time.monotonic() + 0.5
            self.counters["apply_errors"] += 1
            log_event(logger, "central_apply_failed", level=logging.ERROR, site_id=st.site_id, error=repr(exc)[:300])
            return None
        for env, drift in digests:
            self._note_drift(st, drift, env)
        return True

    def _send_ack(self, st: _Site, resend_from: int | None = None) -> None:
        sq = st.seq_up
        self.transport.publish(topics.ack_up(st.site_id), control.ack(stream="up", epoch=sq.epoch or "none", seq=sq.applied,
                                                                       resend_from=resend_from, down_head=st.down_head))

    # ---- presence and heartbeats
    def _on_state(self, st: _Site, payload: bytes) -> None:
        try:
            p = control.parse_control(payload, "presence")
        except EnvelopeError as exc:
            self._reject(st, exc.reason, str(exc))
            return
        if st.presence.on_presence(p["state"], p["session"]):
            log_event(logger, "site_presence", site_id=st.site_id, state=p["state"], session=p["session"])
            if p["state"] == "online":
                st.window.rewind()

    def _on_heartbeat(self, st: _Site, payload: bytes) -> None:
        try:
            hb = control.parse_control(payload, "heartbeat")
        except EnvelopeError as exc:
            self._reject(st, exc.reason, str(exc))
            return
        now = time.monotonic()
        st.presence.on_heartbeat(hb, now)
        st.progress.set_behind(max(0, hb["up_last_seq"] - st.seq_up.applied), now)
        was_stale = st.stale
        st.stale = False
        self._set_health(st, stale=False)
        if was_stale:
            log_event(logger, "site_fresh", site_id=st.site_id)

    def _set_health(self, st: _Site, *, stale: bool) -> None:
        hb = st.presence.heartbeat or {}
        devices = hb.get("devices") or {}
        printers_ok = bool(devices.get("printers_ok", True))
        detail = "stale: no heartbeat" if stale else (
            f"outbox {hb.get('outbox_depth', 0)}, behind {st.progress.behind}, session {hb.get('session')}")
        try:
            self.set_health(st.site_id, stale=stale, sync_lag_s=float(hb.get("outbox_oldest_age_s", 0.0)),
                                       printers_ok=printers_ok, last_heartbeat_at=hb.get("at") or "", detail=detail)
        except Exception as exc:  # noqa: BLE001 - health is advisory; keep syncing
            log_event(logger, "site_health_not_stored", level=logging.WARNING, site_id=st.site_id, error=repr(exc))

    # ---- down stream
    def _on_ack(self, st: _Site, payload: bytes) -> None:
        try:
            ack = control.parse_control(payload, "ack")
        except EnvelopeError as exc:
            self._reject(st, exc.reason, str(exc))
            return
        if ack["stream"] != "down":
            self._reject(st, "wrong_stream", "an edge can only acknowledge the down stream")
            return
        st.pending_down_ack = max(st.pending_down_ack, ack["seq"])  # retired in one transaction per drain
        self._dirty.add(st.site_id)
        if ack.get("resend_from"):
            st.counters["resend_requests"] += 1
            st.window.on_resend(ack["resend_from"], time.monotonic())

    def _down_acked(self, st: _Site, seq: int) -> None:
        if seq <= st.window.acked:
            return
        seq = min(seq, max(st.down_head, st.window.next_seq - 1))  # never beyond what was sent
        if seq <= st.window.acked:
            return
        with self.store.transaction() as conn:
            n = cj.retire_down(conn, st.site_id, seq)
            cj.set_cursor(conn, st.site_id, "down", "central", seq)
        st.window.on_ack(seq, time.monotonic())
        st.counters["down_retired"] += n

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for site in sorted(dirty):
            st = self.sites[site]
            if st.pending_down_ack > st.window.acked:
                self._down_acked(st, st.pending_down_ack)
            self._apply_ready(st)

    def _tick(self) -> None:
        now = time.monotonic()
        for st in list(self.sites.values()):
            if st.seq_up.buffered and time.monotonic() >= self._retry_at:
                self._apply_ready(st)
            gap = st.seq_up.resend_from()
            if gap is not None and now - st.last_resend_req > 0.3 and self.transport.connected:
                st.last_resend_req = now
                st.counters["resend_requested"] += 1
                self._send_ack(st, resend_from=gap)
        if self.transport.connected and now - self._last_pump >= 0.02:
            self._last_pump = now
            self._pump(now)
        if now - self._last_stale_check >= 1.0:
            self._last_stale_check = now
            self._check_stale(now)
        if now - self._last_progress_log >= 5.0:
            self._last_progress_log = now
            for st in self.sites.values():
                p = st.progress
                if p.behind or st.seq_up.buffered:
                    log_event(logger, "sync_catchup_progress", site_id=st.site_id, stream="up", **p.as_dict())

    def _pump(self, now: float) -> None:
        try:
            with self.store.read() as conn:
                heads = cj.down_heads(conn)
                todo = []
                for site, head in heads.items():
                    st = self.sites.get(site) or self._load_site(conn, site)
                    st.down_head = head
                    st.window.check_timeout(now)
                    if head >= st.window.next_seq and st.window.room() > 0:
                        rows = cj.pending_for_site(conn, site, after_seq=st.window.next_seq - 1,
                                                   limit=min(st.window.room(), self.scfg.batch_size * 10))
                        todo.append((st, rows))
        except Exception as exc:  # noqa: BLE001 - database unavailable: try again next tick
            self.counters["pump_errors"] += 1
            if self.counters["pump_errors"] % 50 == 1:
                log_event(logger, "central_pump_failed", level=logging.WARNING, error=repr(exc)[:300])
            return
        bs = self.scfg.batch_size
        for st, rows in todo:
            for i in range(0, len(rows), bs):
                chunk = rows[i:i + bs]
                if not self.transport.publish(topics.down_commands(st.site_id), encode_batch(chunk)):
                    return
                st.window.sent_through(chunk[-1].seq, now)
                st.counters["down_published"] += len(chunk)

    def _check_stale(self, now: float) -> None:
        missed = self.scfg.stale_after_missed
        for st in self.sites.values():
            p = st.presence
            if p.last_heartbeat is None:
                stale = now - max(st.seen_since, self._started) > missed * p.interval_s
            else:
                stale = p.is_stale(now, missed)
            if stale and st.stale is not True:
                st.stale = True
                log_event(logger, "site_stale", level=logging.WARNING, site_id=st.site_id, missed=missed)
                self._set_health(st, stale=True)

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        now = time.monotonic()
        sites = {}
        try:
            with self.store.read() as conn:
                stats = cj.down_stats(conn)
        except Exception:  # noqa: BLE001
            stats = {}
        for site, st in sorted(dict(self.sites).items()):
            hb = st.presence.heartbeat or {}
            down = stats.get(site, {"depth": 0, "oldest_at": None})
            sites[site] = {
                "site_id": site,
                "online": st.presence.online,
                "stale": bool(st.stale),
                "session": st.presence.session if st.presence.session >= 0 else None,
                "last_heartbeat_age_s": (round(now - st.presence.last_heartbeat, 1)
                                         if st.presence.last_heartbeat is not None else None),
                "devices": hb.get("devices", {}),
                "up": {"epoch": st.seq_up.epoch, "applied_seq": st.seq_up.applied, "buffered": st.seq_up.buffered,
                       "edge_outbox_depth": hb.get("outbox_depth"), "edge_outbox_oldest_age_s": hb.get("outbox_oldest_age_s"),
                       "applied": st.counters["applied"], "duplicates": st.counters["duplicates"],
                       "parked": st.counters["parked"], "resend_requested": st.counters["resend_requested"],
                       "progress": st.progress.as_dict()},
                "down": {"outbox_depth": down["depth"], "oldest_at": down["oldest_at"], "acked_seq": st.window.acked,
                         "head_seq": st.down_head, "inflight": st.window.inflight(),
                         "edge_applied_seq": hb.get("down_applied"), "published": st.counters["down_published"]},
                "rejected": dict(st.rejected),
                "security_events": st.counters["security_events"],
                "drift": {"alerts": st.counters["drift_alerts"], "skus": st.drift_skus, "last": st.last_drift},
                "alert": hb.get("alert"),
            }
        totals = Counter()
        for s in sites.values():
            totals["rejected"] += sum(s["rejected"].values())
            totals["security_events"] += s["security_events"]
            totals["behind"] += s["up"]["progress"]["behind"]
            totals["down_depth"] += s["down"]["outbox_depth"]
        return {"connected": bool(self.transport and self.transport.connected), "sites": sites,
                "totals": dict(totals), "counters": dict(self.counters)}

    def recent(self, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
        """Recent security events and parked envelopes (for the dashboard)."""
        with self.store.read() as conn:
            return {"security": cj.security_events(conn, limit), "parked": cj.parked(conn, limit)}

    def blueprint(self):
        """Central's sync dashboard (`/sync`, `/sync/status.json`, `/sync/events.json`)."""
        from sync.web import central_blueprint

        return central_blueprint(self)
