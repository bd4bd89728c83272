"""One background thread with a stop event, joined on stop; a context manager."""
from __future__ import annotations

import threading


class Worker:
    """Subclasses implement ``_run()`` (return when ``self._stop`` is set) and may override
    ``_wake()`` to interrupt a blocking wait on stop."""

    thread_name = "devices-worker"
    join_timeout_s = 10.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _wake(self) -> None:
        """Called by stop() after the stop event is set."""

    def start(self):
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(self.join_timeout_s)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
