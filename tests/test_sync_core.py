"""Pure protocol core: envelope checks, batch framing, control messages, the inbox sequencer."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from sync.core import control, topics
from sync.core.envelope import (SCHEMA_VERSION, Envelope, EnvelopeError, Parked, Rejected, decode_batch, encode_batch,
                                envelope_from_dict)
from sync.core.sequencer import (BUFFERED, DUPLICATE, FAR_FUTURE, OLD_EPOCH, READY, UNKNOWN_EPOCH, Sequencer,
                                 SendWindow)

BODY = {"sku": "SKU-0001", "delta": -2, "reason": "damaged", "location": "A-01-01"}


def env(seq: int, site="EWR1", epoch="ep1", **over) -> Envelope:
    d = dict(schema=SCHEMA_VERSION, event_id=f"ev-{epoch}-{seq}", merchant_id="acme", site_id=site, stream="up",
             seq=seq, epoch=epoch, type="inventory.adjusted", occurred_at="2026-11-23T10:00:00.000Z", body=dict(BODY))
    d.update(over)
    return Envelope(**d)


def test_envelope_round_trip_through_a_batch():
    batch = decode_batch(encode_batch([env(1), env(2)], epoch_base=0), max_bytes=10_000, expect_stream="up",
                         expect_site="EWR1")
    assert [e.seq for e in batch.items] == [1, 2]
    assert batch.items[0] == env(1)
    assert (batch.site_id, batch.stream, batch.epoch, batch.epoch_base) == ("EWR1", "up", "ep1", 0)


@pytest.mark.parametrize("mutate,reason,field", [
    (lambda d: d.pop("seq"), "missing_field", "seq"),
    (lambda d: d.update(seq="7"), "wrong_type", "seq"),
    (lambda d: d.update(seq=True), "wrong_type", "seq"),
    (lambda d: d.update(seq=0), "bad_value", "seq"),
    (lambda d: d.update(event_id=12), "wrong_type", "event_id"),
    (lambda d: d.update(event_id="bad id\n"), "bad_value", "event_id"),
    (lambda d: d.update(merchant_id=None), "wrong_type", "merchant_id"),
    (lambda d: d.update(stream="sideways"), "bad_value", "stream"),
    (lambda d: d.update(type="order.hold"), "wrong_stream", "type"),
    (lambda d: d.update(type="no.such"), "invalid_body", "type"),
    (lambda d: d.update(occurred_at="yesterday"), "bad_value", "occurred_at"),
    (lambda d: d.update(body=[]), "wrong_type", "body"),
    (lambda d: d["body"].update(delta="2"), "invalid_body", "body.delta"),
    (lambda d: d["body"].pop("sku"), "invalid_body", "body.sku"),
    (lambda d: d.update(extra=1), "unknown_field", "extra"),
    (lambda d: d.update(zz=1, aa=2), "unknown_field", "aa"),           # the first unknown field, by name
    (lambda d: d["body"].update(reason="torn\x00box"), "invalid_body", "body.reason"),
    (lambda d: d["body"].update(reason="del\x7f"), "invalid_body", "body.reason"),
    (lambda d: d["body"].update(location="A\x1f1"), "invalid_body", "body.location"),
    (lambda d: d.update(schema=0), "schema_unsupported", "schema"),
])
def test_every_field_is_checked(mutate, reason, field):
    d = env(1).to_dict()
    mutate(d)
    with pytest.raises(EnvelopeError) as exc:
        envelope_from_dict(d)
    assert exc.value.reason == reason
    assert exc.value.field == field


def test_the_wire_form_is_the_full_envelope_and_decodes_to_the_same_envelope():
    e = env(7, body={"sku": "SKU-1", "delta": 3, "reason": "caf\u00e9 \u2603 ok", "location": "A-1"})
    assert e.wire() == e.to_dict() and list(e.wire()) == list(e.to_dict())
    doc = json.loads(encode_batch([e], epoch_base=6))
    assert doc["envelopes"] == [e.to_dict()]
    batch = decode_batch(encode_batch([e], epoch_base=6), max_bytes=10_000, expect_stream="up", expect_site="EWR1")
    assert batch.items == (e,) and batch.epoch_base == 6


def test_batch_level_refusals():
    good = encode_batch([env(1)])
    with pytest.raises(EnvelopeError) as exc:
        decode_batch(good, max_bytes=len(good) - 1, expect_stream="up", expect_site="EWR1")
    assert exc.value.reason == "too_large"
    for payload, reason in [(b"{nope", "malformed_json"), (b"\xff\xfe", "malformed_json"), (b"[1]", "bad_batch"),
                            (b'{"v": 2}', "schema_unsupported")]:
        with pytest.raises(EnvelopeError) as exc:
            decode_batch(payload, max_bytes=10_000, expect_stream="up", expect_site="EWR1")
        assert exc.value.reason == reason
    with pytest.raises(EnvelopeError) as exc:  # a valid site claiming to be another
        decode_batch(good, max_bytes=10_000, expect_stream="up", expect_site="LAX1")
    assert exc.value.reason == "wrong_site"


def test_one_bad_envelope_does_not_spoil_its_batch_and_newer_schema_is_parked():
    doc = json.loads(encode_batch([env(1), env(2), env(3)]))
    doc["envelopes"][1]["body"]["delta"] = "lots"
    doc["envelopes"][2] = {**doc["envelopes"][2], "schema": SCHEMA_VERSION + 1, "newfield": {"x": 1}}
    batch = decode_batch(json.dumps(doc).encode(), max_bytes=100_000, expect_stream="up", expect_site="EWR1")
    assert isinstance(batch.items[0], Envelope)
    assert isinstance(batch.items[1], Rejected) and batch.items[1].error.reason == "invalid_body"
    assert batch.items[1].seq == 2
    assert isinstance(batch.items[2], Parked) and batch.items[2].seq == 3 and batch.items[2].schema == 2
    # an envelope inside the batch claiming another site is refused even if the header is right
    doc = json.loads(encode_batch([env(1)]))
    doc["envelopes"][0]["site_id"] = "LAX1"
    batch = decode_batch(json.dumps(doc).encode(), max_bytes=100_000, expect_stream="up", expect_site="EWR1")
    assert batch.items[0].error.reason == "wrong_site"


def test_control_messages_round_trip_and_refuse_bad_fields():
    a = control.parse_control(control.ack(stream="up", epoch="ep1", seq=41, resend_from=42), "ack")
    assert (a["seq"], a["resend_from"]) == (41, 42)
    h = control.parse_control(control.hello(epoch="e", epoch_base=0, session=3, down_epoch=None, down_applied=9), "hello")
    assert h["session"] == 3 and h["down_applied"] == 9
    with pytest.raises(EnvelopeError) as exc:
        control.parse_control(b'{"v":1,"kind":"ack","stream":"up","epoch":"e","seq":"9"}', "ack")
    assert exc.value.reason == "wrong_type"
    with pytest.raises(EnvelopeError) as exc:
        control.parse_control(b'{"v":1,"kind":"ack","stream":"up","epoch":"e","seq":-1}', "ack")
    assert exc.value.reason == "bad_value"
    with pytest.raises(EnvelopeError) as exc:
        control.parse_control(control.ack(stream="up", epoch="e", seq=1), "hello")
    assert exc.value.reason == "bad_batch"


def test_presence_ignores_a_stale_last_will_and_goes_stale_after_missed_heartbeats():
    p = control.SitePresence(interval_s=10)
    assert p.on_presence("online", 5)
    assert not p.on_presence("offline", 4)  # the will of an older session arrives late
    assert p.online
    p.on_heartbeat({"session": 5, "interval_s": 10}, now=100.0)
    assert not p.is_stale(129.0, 3)
    assert p.is_stale(130.5, 3)
    assert p.on_presence("offline", 5) and not p.online


def test_drift_names_the_differing_skus():
    assert control.drift({"A": 5, "B": 2}, {"A": 5, "B": 3, "C": 1}) == {
        "B": {"edge": 3, "central": 2, "diff": 1}, "C": {"edge": 1, "central": 0, "diff": 1}}
    assert control.drift({"A": 1}, {"A": 1}) == {}


def test_progress_reports_rate_and_eta():
    p = control.Progress()
    p.set_behind(1000, 0.0)
    p.on_applied(0, 0.0)
    p.on_applied(500, 1.0)
    p.set_behind(500, 1.0)
    assert p.rate == 500.0
    assert p.eta_s == 1.0
    assert p.as_dict()["done_fraction"] == 0.5


def test_topics_parse():
    assert topics.parse(topics.up_events("EWR1")) == ("EWR1", "up/events")
    assert topics.parse("other/v1/x/up") is None


# ------------------------------------------------------------------ sequencer


def test_sequencer_decisions():
    s = Sequencer("ep1", applied=10, retired_epochs={"ep0"}, max_ahead=100)
    assert s.offer("ep1", 10, "x") == DUPLICATE
    assert s.offer("ep1", 12, "b") == BUFFERED
    assert s.resend_from() == 11
    assert s.offer("ep1", 12, "b") == DUPLICATE  # already buffered
    assert s.offer("ep1", 111, "far") == FAR_FUTURE
    assert s.offer("ep0", 11, "old") == OLD_EPOCH
    assert s.offer("epX", 11, "new") == UNKNOWN_EPOCH
    assert s.offer("ep1", 11, "a") == READY
    assert s.take_ready() == ["a", "b"]
    s.applied_through(12)
    assert s.applied == 12 and s.resend_from() is None
    assert not s.adopt_epoch("ep0", 0)  # a retired epoch never comes back
    assert s.adopt_epoch("ep2", 5) and s.applied == 5 and "ep1" in s.retired_epochs


def test_send_window_bounds_inflight_and_rewinds():
    w = SendWindow(acked=0, next_seq=1, max_inflight=10, ack_timeout_s=1.0)
    assert w.room() == 10
    w.sent_through(10, now=0.0)
    assert w.room() == 0
    assert w.on_ack(4, now=0.5)
    assert w.room() == 4 and w.next_seq == 11
    assert w.on_resend(6, now=0.7)
    assert w.next_seq == 6
    w.sent_through(10, now=0.7)
    assert not w.on_resend(6, now=0.9)  # the same gap again, answered moments ago: no second flood
    assert w.next_seq == 11
    assert w.on_resend(6, now=1.8) and w.next_seq == 6
    w.sent_through(10, now=1.8)
    assert not w.check_timeout(1.2)  # last ack at 0.5: not silent long enough yet
    assert w.check_timeout(1.6) and w.next_seq == 5


def _simulate(n: int, rng: random.Random, drop: float, dup: float, window: int) -> list[int]:
    """Sender with an outbox of n events, a lossy duplicating reordering channel, a receiver
    applying through the sequencer; resends by request and by timeout. Returns applied seqs."""
    seqr = Sequencer("ep", 0, max_ahead=10_000)
    w = SendWindow(acked=0, next_seq=1, max_inflight=window, ack_timeout_s=3)
    applied: list[int] = []
    channel: list[int] = []
    clock = 0.0
    for _step in range(200_000):
        clock += 1
        # sender fills the window
        while w.room() > 0 and w.next_seq <= n:
            s = w.next_seq
            w.sent_through(s, clock)
            if rng.random() >= drop:
                channel.append(s)
                if rng.random() < dup:
                    channel.append(s)
        # channel delivers a random one (reordering)
        if channel:
            s = channel.pop(rng.randrange(len(channel)))
            seqr.offer("ep", s, s)
            ready = seqr.take_ready()
            applied.extend(ready)
            if ready:
                seqr.applied_through(ready[-1])
            w.on_ack(seqr.applied, clock)  # ack (may itself be "lost": only every other is seen)
            gap = seqr.resend_from()
            if gap is not None and rng.random() < 0.3:
                w.on_resend(gap, clock)
        w.check_timeout(clock)
        if seqr.applied == n and not channel:
            break
    return applied


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 10_000), drop=st.sampled_from([0.0, 0.01, 0.2]),
       dup=st.sampled_from([0.0, 0.5, 1.0]), window=st.sampled_from([1, 7, 50]))
def test_any_interleaving_applies_each_seq_exactly_once_in_order(n, seed, drop, dup, window):
    applied = _simulate(n, random.Random(seed), drop, dup, window)
    assert applied == list(range(1, n + 1))


@settings(max_examples=40, deadline=None)
@given(seqs=st.lists(st.integers(1, 60), max_size=300))
def test_arbitrary_deliveries_never_apply_out_of_order_or_twice(seqs):
    s = Sequencer("ep", 0)
    applied = []
    for q in seqs + list(range(1, 61)):  # whatever came first, a final full resend completes it
        s.offer("ep", q, q)
        ready = s.take_ready()
        if ready:
            s.applied_through(ready[-1])
        applied += ready
    assert applied == list(range(1, 61))
