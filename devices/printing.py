"""The print spooler: print I/O on one background thread, every job recorded.

``PrintSpooler(printer, journal).submit(data, ...)`` returns a job id at once (it only puts the
job on a queue — never blocks a web request). The spooler thread records the job in the
``journal`` and walks it through its states::

    queued -> sent -> done
    queued -> failed            printer offline / not ready on every attempt; nothing was sent
    queued -> sent -> unknown   the connection broke or stalled after bytes left: the label may
                                or may not be out. NEVER resent automatically.

Failures before sending are retried per :class:`RetryPolicy`. A reprint is an explicit,
audited action: ``reprint(job_id, actor, reason)`` queues a *new* job pointing at the original.

``journal`` is any object with ``record(job: PrintJob)`` and ``update(job_id, state, error)``
(the edge implements it on its SQLite store; :class:`MemoryJobJournal` ships for tests and
the simulators). Journal calls happen on the spooler thread.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

from devices.errors import (
    PrinterError,
    PrinterJobUnknown,
    PrinterOffline,
    PrintJobNotFound,
    ReprintRefused,
)
from devices.health import report
from floorsync.log import log_event

logger = logging.getLogger(__name__)

STATES = ("queued", "sent", "done", "failed", "unknown")
TERMINAL = frozenset({"done", "failed", "unknown"})


@dataclass(frozen=True)
class PrintJob:
    job_id: str
    data: bytes
    description: str = ""
    ref: str = ""
    state: str = "queued"
    attempts: int = 0
    error: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    reprint_of: str | None = None
    actor: str = ""
    reason: str = ""
    printer: str = ""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["size"] = len(d.pop("data"))
        return d


class JobJournal(Protocol):
    def record(self, job: PrintJob) -> None: ...

    def update(self, job_id: str, state: str, error: str | None) -> None: ...


class MemoryJobJournal:
    """In-memory journal keeping every job and its state history (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, PrintJob] = {}
        self.history: list[tuple[str, str, str | None]] = []

    def record(self, job: PrintJob) -> None:
        with self._lock:
            self.jobs[job.job_id] = job
            self.history.append((job.job_id, job.state, job.error or None))

    def update(self, job_id: str, state: str, error: str | None) -> None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is not None:
                self.jobs[job_id] = dataclasses.replace(job, state=state, error=error or "", updated_at=time.time())
            self.history.append((job_id, state, error))

    def states(self, job_id: str) -> list[str]:
        with self._lock:
            return [s for j, s, _ in self.history if j == job_id]

    def get(self, job_id: str) -> PrintJob | None:
        with self._lock:
            return self.jobs.get(job_id)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 1.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return self.backoff_s * (self.factor ** max(0, attempt - 1))


class PrintSpooler:
    """One background thread per printer; jobs print in submission order."""

    def __init__(self, printer, journal: JobJournal | None = None, retry: RetryPolicy | None = None,
                 health=None, device_name: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.printer = printer
        self.journal = journal if journal is not None else MemoryJobJournal()
        self.retry = retry or RetryPolicy()
        self.health = health
        self.device_name = device_name or getattr(printer, "name", "printer")
        self._clock = clock
        self._queue: queue.Queue[PrintJob | None] = queue.Queue()
        self._jobs: dict[str, PrintJob] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> "PrintSpooler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"print-spooler:{self.device_name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the job in hand (queued jobs stay ``queued`` in the journal)."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def __enter__(self) -> "PrintSpooler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- caller side (never blocks on I/O) ---------------------------------------------------
    def submit(self, data: bytes, description: str = "", ref: str = "", *, _reprint_of: str | None = None,
               _actor: str = "", _reason: str = "") -> str:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise PrinterError("a print job needs non-empty bytes")
        now = self._clock()
        job = PrintJob(job_id=uuid.uuid4().hex, data=bytes(data), description=description, ref=ref,
                       created_at=now, updated_at=now, reprint_of=_reprint_of, actor=_actor,
                       reason=_reason, printer=self.device_name)
        with self._lock:
            self._jobs[job.job_id] = job
            self._pending += 1
        self._queue.put(job)
        return job.job_id

    def reprint(self, job_id: str, actor: str, reason: str) -> str:
        """Queue a new job with the same bytes; audited with who and why."""
        if not actor or not actor.strip() or not reason or not reason.strip():
            raise ReprintRefused("a reprint needs the actor and a reason")
        original = self.get(job_id)
        if original.state not in TERMINAL:
            raise ReprintRefused(f"job {job_id} is still {original.state}; wait for it to finish")
        new_id = self.submit(original.data, original.description, original.ref,
                             _reprint_of=job_id, _actor=actor.strip(), _reason=reason.strip())
        log_event(logger, "print_reprint", job_id=new_id, reprint_of=job_id, actor=actor, reason=reason,
                  original_state=original.state)
        return new_id

    def get(self, job_id: str) -> PrintJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            getter = getattr(self.journal, "get", None)
            job = getter(job_id) if getter else None
        if job is None:
            raise PrintJobNotFound(job_id)
        return job

    def jobs(self) -> list[PrintJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until every submitted job reached a terminal state (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # --- spooler thread ---------------------------------------------------------------------
    def _set(self, job: PrintJob, **changes) -> PrintJob:
        job = dataclasses.replace(job, updated_at=self._clock(), **changes)
        with self._lock:
            self._jobs[job.job_id] = job
            if job.state in TERMINAL:
                self._pending -= 1
                self._idle.notify_all()
        return job

    def _journal(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a broken journal must not kill the spooler
            log_event(logger, "print_journal_error", error=str(exc))

    def _health(self, state: str, error: str = "") -> None:
        report(self.health, self.device_name, state, error)

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                break
            self._journal(self.journal.record, job)
            self._print(job)
        # jobs not yet taken stay ``queued``: record them so the journal shows them
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._journal(self.journal.record, job)
        with self._lock:
            self._idle.notify_all()

    def _print(self, job: PrintJob) -> None:
        sent = threading.Event()
        attempt = 0
        while True:
            attempt += 1
            job = self._set(job, attempts=attempt)

            def on_sent(job_id=job.job_id):
                sent.set()
                self._set(self._jobs[job_id], state="sent")
                self._journal(self.journal.update, job_id, "sent", None)

            try:
                self.printer.send(job.data, on_sent=on_sent)
            except PrinterJobUnknown as exc:
                self._finish(job, "unknown", str(exc))
                self._health("error", str(exc))
                return
            except (PrinterOffline, PrinterError) as exc:
                if sent.is_set():  # defensive: a driver raised a plain error after sending
                    self._finish(job, "unknown", str(exc))
                    self._health("error", str(exc))
                    return
                self._health("offline" if isinstance(exc, PrinterOffline) else "error", str(exc))
                if attempt >= self.retry.attempts or self._stop.is_set():
                    self._finish(job, "failed", str(exc))
                    return
                log_event(logger, "print_retry", job_id=job.job_id, attempt=attempt, error=str(exc))
                if self._stop.wait(self.retry.delay(attempt)):
                    self._finish(job, "failed", f"spooler stopped: {exc}")
                    return
                continue
            except Exception as exc:  # an unexpected driver bug: never crash the spooler
                state = "unknown" if sent.is_set() else "failed"
                self._finish(job, state, f"{type(exc).__name__}: {exc}")
                self._health("error", str(exc))
                return
            if not sent.is_set():
                on_sent()
            self._finish(job, "done", "")
            self._health("online")
            return

    def _finish(self, job: PrintJob, state: str, error: str) -> None:
        current = self._jobs.get(job.job_id, job)
        self._set(current, state=state, error=error)
        self._journal(self.journal.update, job.job_id, state, error or None)
        log_event(logger, "print_job_" + state, job_id=job.job_id, printer=self.device_name,
                  attempts=current.attempts, error=error, ref=job.ref)
