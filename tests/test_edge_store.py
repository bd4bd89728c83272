"""The edge store on real SQLite files: pragmas, migrations, one writer, group commit, readers."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from edge import store as db
from edge.errors import StoreError
from edge.store import EdgeStore, check_pragmas
from sync import edge_journal


def test_every_connection_is_wal_full_sync_with_foreign_keys(tmp_path):
    st = EdgeStore(str(tmp_path / "e.db"), "EWR1")
    try:
        w = st.write(lambda c: (c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("PRAGMA synchronous").fetchone()[0],
                                c.execute("PRAGMA foreign_keys").fetchone()[0], c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))
        r = st.read(lambda c: (c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("PRAGMA synchronous").fetchone()[0],
                               c.execute("PRAGMA foreign_keys").fetchone()[0], c.execute("PRAGMA query_only").fetchone()[0]))
        assert w == ("wal", 2, 1, 0)
        assert r == ("wal", 2, 1, 1)
        with pytest.raises(sqlite3.OperationalError):
            st.read(lambda c: c.execute("INSERT INTO edge_meta VALUES ('x', 'y')"))
    finally:
        st.close()
    bad = sqlite3.connect(str(tmp_path / "e.db"))
    with pytest.raises(StoreError):
        check_pragmas(bad)  # synchronous/foreign keys not set: refused
    bad.close()


def test_migrations_are_versioned_idempotent_and_bind_the_site(tmp_path):
    path = str(tmp_path / "e.db")
    st = EdgeStore(path, "EWR1")
    versions = st.read(lambda c: [r[0] for r in c.execute("SELECT version FROM schema_migrations")])
    seq_tables = st.read(lambda c: {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")})
    st.close()
    assert versions == [1, 2, 3]
    assert {"sync_outbox", "sync_inbox", "stock", "pick_tasks", "audit_log", "print_jobs"} <= seq_tables
    st = EdgeStore(path, "EWR1")  # second open: nothing re-applied
    assert st.read(lambda c: c.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]) == 3
    st.close()
    with pytest.raises(StoreError, match="belongs to site EWR1"):
        EdgeStore(path, "LAX1")


def test_write_runs_in_one_transaction_and_a_failure_rolls_back_only_that_function(tmp_path):
    st = EdgeStore(str(tmp_path / "e.db"), "EWR1")
    try:
        def good(c):
            db.meta_set(c, "a", "1")
            return "fine"

        def bad(c):
            db.meta_set(c, "b", "2")
            edge_journal.emit(c, "inventory.adjusted", {"sku": "S1", "delta": -1, "reason": "x", "location": "A"},
                              merchant_id="M")
            raise ValueError("boom")

        # submit many concurrently so the writer groups them into shared transactions
        results, errors = [], []

        def worker(i):
            try:
                results.append(st.write(good if i % 2 else bad))
            except ValueError as exc:
                errors.append(str(exc))
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["fine"] * 20 and errors == ["boom"] * 20
        assert st.read(lambda c: db.meta_get(c, "a")) == "1"
        assert st.read(lambda c: db.meta_get(c, "b")) is None
        assert st.read(db.outbox_depth) == 0   # the failed functions' events were rolled back with them
    finally:
        st.close()


def test_readers_do_not_block_the_writer(tmp_path):
    st = EdgeStore(str(tmp_path / "e.db"), "EWR1")
    try:
        st.write(lambda c: db.meta_set(c, "n", "0"))
        inside = threading.Event()
        release = threading.Event()
        seen = []

        def long_read(c):
            seen.append(db.meta_get(c, "n"))
            inside.set()
            release.wait(5)
            seen.append(db.meta_get(c, "n"))   # same snapshot throughout the read transaction
        t = threading.Thread(target=lambda: st.read(long_read))
        t.start()
        inside.wait(5)
        t0 = time.perf_counter()
        for i in range(1, 21):
            st.write(lambda c, i=i: db.meta_set(c, "n", str(i)))
        elapsed = time.perf_counter() - t0
        release.set()
        t.join()
        assert seen == ["0", "0"]
        assert st.read(lambda c: db.meta_get(c, "n")) == "20"
        assert elapsed < 2.0
    finally:
        st.close()


def test_close_joins_writer_and_checkpointer_and_refuses_later_calls(tmp_path):
    st = EdgeStore(str(tmp_path / "e.db"), "EWR1", checkpoint_interval_s=0.05)
    st.write(lambda c: db.meta_set(c, "k", "v"))
    time.sleep(0.2)
    st.close()
    assert not any(t.name.startswith("edge-writer-EWR1") or t.name.startswith("edge-checkpoint-EWR1")
                   for t in threading.enumerate())
    with pytest.raises(StoreError):
        st.write(lambda c: None)
    # the data is durable and readable by a fresh store
    st2 = EdgeStore(str(tmp_path / "e.db"), "EWR1")
    assert st2.read(lambda c: db.meta_get(c, "k")) == "v"
    st2.close()


def test_nested_write_is_refused(tmp_path):
    st = EdgeStore(str(tmp_path / "e.db"), "EWR1")
    try:
        with pytest.raises(StoreError, match="inside a write"):
            st.write(lambda c: st.write(lambda c2: None))
    finally:
        st.close()


def test_background_checkpoint_copies_the_wal_into_the_database_once_it_grows(tmp_path):
    import os

    path = str(tmp_path / "e.db")
    st = EdgeStore(path, "EWR1", checkpoint_interval_s=0.05, checkpoint_bytes=64 * 1024)
    try:
        size0 = os.path.getsize(path)
        for i in range(300):
            st.write(lambda c, i=i: db.meta_set(c, f"k{i}", "x" * 500))
        deadline = time.monotonic() + 5
        while os.path.getsize(path) == size0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.getsize(path) > size0 + 100_000   # the checkpointer thread moved the pages over
    finally:
        st.close()
    st = EdgeStore(path, "EWR1", checkpoint_interval_s=0.05)   # default threshold (4 MB): no early checkpoint
    try:
        size1 = os.path.getsize(path)
        for i in range(50):
            st.write(lambda c, i=i: db.meta_set(c, f"j{i}", "y" * 500))
        time.sleep(0.3)
        assert os.path.getsize(path) == size1
        busy, log_frames, ckpt = st.checkpoint("PASSIVE")
        assert busy == 0 and log_frames == ckpt
    finally:
        st.close()


def test_grouped_writes_each_get_their_own_answer_only_after_a_durable_commit(tmp_path):
    """16 threads x 40 writes: the writer groups them into shared transactions, yet every caller
    gets its own function's value (or its own exception), and what a caller was told is committed
    is already visible to a fresh connection on the file when the answer arrives."""
    path = str(tmp_path / "e.db")
    st = EdgeStore(path, "EWR1")
    rows_before = st.read(lambda c: c.execute("SELECT COUNT(*) FROM edge_meta").fetchone()[0])
    mismatches, invisible, refused = [], [], []

    def worker(w: int) -> None:
        probe = sqlite3.connect(path)
        try:
            for i in range(40):
                key = f"w{w}-{i}"
                if i % 10 == 9:
                    def bad(c, key=key):
                        db.meta_set(c, key, "never")
                        raise KeyError(key)
                    try:
                        st.write(bad)
                    except KeyError as exc:
                        refused.append(exc.args[0])
                    continue
                got = st.write(lambda c, key=key: (db.meta_set(c, key, "v"), key)[1])
                if got != key:
                    mismatches.append((key, got))
                if probe.execute("SELECT value FROM edge_meta WHERE key = ?", (key,)).fetchone() != ("v",):
                    invisible.append(key)
        finally:
            probe.close()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert mismatches == [] and invisible == []
        assert sorted(refused) == sorted(f"w{w}-{i}" for w in range(16) for i in (9, 19, 29, 39))
        assert st.read(lambda c: c.execute("SELECT COUNT(*) FROM edge_meta").fetchone()[0]) == rows_before + 16 * 36
        assert st.read(lambda c: c.execute("SELECT COUNT(*) FROM edge_meta WHERE value = 'never'").fetchone()[0]) == 0
    finally:
        st.close()
