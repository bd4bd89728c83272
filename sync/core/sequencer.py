"""Inbox sequencing decisions for one (site, stream): exactly once, in seq order (pure).

The receiving shell offers every decoded envelope; the sequencer says what to do with it:

- ``ready``: it is next (or fills the gap) — ``take_ready()`` hands out the contiguous run after the
  applied cursor, which the shell applies in ONE transaction with the inbox rows, then calls
  ``applied_through(seq)``;
- ``duplicate``: seq at or below the applied cursor, or already buffered — counted and dropped;
- ``buffered``: ahead of a gap; kept (bounded) until the gap is filled by a resend;
- ``far_future``: more than ``max_ahead`` beyond the cursor — refused (a broken or hostile sender);
- ``old_epoch``: from an epoch this receiver has retired (a rebuilt/restored sender) — refused;
- ``unknown_epoch``: from an epoch not yet announced by the sender's hello/batch header.

``resend_from()`` names the first missing seq while envelopes wait behind a gap. The cursor only
moves through ``applied_through`` (after the commit), so a crash replays from the durable cursor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

READY = "ready"
DUPLICATE = "duplicate"
BUFFERED = "buffered"
FAR_FUTURE = "seq_far_future"
OLD_EPOCH = "old_epoch"
UNKNOWN_EPOCH = "unknown_epoch"


@dataclass
class Sequencer:
    epoch: str | None
    applied: int = 0
    retired_epochs: set[str] = field(default_factory=set)
    max_ahead: int = 100_000
    buffer_limit: int = 20_000
    _buffer: dict[int, Any] = field(default_factory=dict)

    def adopt_epoch(self, epoch: str, base_seq: int) -> bool:
        """The sender announced ``epoch`` starting after ``base_seq``. Returns True if this changed
        the epoch (the old one is retired; its buffered envelopes are dropped). A retired epoch is
        never re-adopted."""
        if epoch == self.epoch or epoch in self.retired_epochs:
            return False
        if self.epoch is not None:
            self.retired_epochs.add(self.epoch)
        self.epoch = epoch
        self.applied = max(0, base_seq)
        self._buffer.clear()
        return True

    def classify(self, epoch: str, seq: int) -> str:
        if epoch != self.epoch:
            return OLD_EPOCH if epoch in self.retired_epochs else UNKNOWN_EPOCH
        if seq <= self.applied or seq in self._buffer:
            return DUPLICATE
        if seq > self.applied + self.max_ahead:
            return FAR_FUTURE
        return READY if seq == self.applied + 1 else BUFFERED

    def offer(self, epoch: str, seq: int, item: Any) -> str:
        verdict = self.classify(epoch, seq)
        if verdict in (READY, BUFFERED):
            if verdict == BUFFERED and len(self._buffer) >= self.buffer_limit:
                # keep the ones nearest the cursor; the far ones come back with the resend
                far = max(self._buffer)
                if seq > far:
                    return BUFFERED
                del self._buffer[far]
            self._buffer[seq] = item
        return verdict

    def take_ready(self, limit: int | None = None) -> list[Any]:
        """Pop the contiguous run right after the cursor (does not move the cursor)."""
        out = []
        nxt = self.applied + 1
        while nxt in self._buffer and (limit is None or len(out) < limit):
            out.append(self._buffer.pop(nxt))
            nxt += 1
        return out

    def put_back(self, items: Iterable[tuple[int, Any]]) -> None:
        """Return taken items when their transaction failed (they stay pending, nothing applied)."""
        for seq, item in items:
            if seq > self.applied:
                self._buffer[seq] = item

    def applied_through(self, seq: int) -> None:
        if seq > self.applied:
            self.applied = seq
            for s in [s for s in self._buffer if s <= seq]:
                del self._buffer[s]

    def resend_from(self) -> int | None:
        """First missing seq when envelopes wait behind a gap, else None."""
        if self._buffer and (self.applied + 1) not in self._buffer:
            return self.applied + 1
        return None

    @property
    def buffered(self) -> int:
        return len(self._buffer)


@dataclass
class SendWindow:
    """Sender side of one stream: what to publish next, bounded in-flight, retransmit on silence.

    ``acked`` is the receiver's applied cursor (rows up to it are retired); ``next_seq`` the next
    seq to publish. Resend requests and ack timeouts rewind ``next_seq``; nothing is ever skipped.
    """

    acked: int = 0
    next_seq: int = 1
    max_inflight: int = 2000
    ack_timeout_s: float = 3.0
    last_progress: float = 0.0
    timeouts: int = 0
    _last_resend_seq: int = 0
    _last_resend_t: float = 0.0

    def on_ack(self, seq: int, now: float) -> bool:
        """Returns True when the ack retires something new."""
        if seq > self.acked:
            self.acked = seq
            self.next_seq = max(self.next_seq, seq + 1)
            self.last_progress = now
            self.timeouts = 0
            return True
        return False

    def on_resend(self, seq: int, now: float = 0.0) -> bool:
        """Rewind to ``seq`` unless the same gap was already answered within ``ack_timeout_s``
        (repeated requests for one gap must not flood the receiver with the whole window again)."""
        if seq < 1 or seq <= self.acked:
            return False
        if seq == self._last_resend_seq and now - self._last_resend_t < self.ack_timeout_s:
            return False
        self._last_resend_seq, self._last_resend_t = seq, now
        self.next_seq = max(self.acked + 1, min(self.next_seq, seq))
        return True

    def rewind(self) -> None:
        self.next_seq = self.acked + 1

    def room(self) -> int:
        return max(0, self.max_inflight - (self.next_seq - 1 - self.acked))

    def sent_through(self, seq: int, now: float) -> None:
        if self.next_seq - 1 == self.acked:
            self.last_progress = now  # the clock starts when the first unacked message leaves
        self.next_seq = max(self.next_seq, seq + 1)

    def inflight(self) -> int:
        return self.next_seq - 1 - self.acked

    def check_timeout(self, now: float) -> bool:
        """Rewind when nothing was acked for a while with messages in flight (exponential backoff)."""
        if self.inflight() > 0 and now - self.last_progress > self.ack_timeout_s * (2 ** min(self.timeouts, 4)):
            self.timeouts += 1
            self.last_progress = now
            self.rewind()
            return True
        return False
