"""A real Mosquitto broker per test (free loopback port, persistence in tmp).

The sync package owns the production broker configuration (sync.broker); this fixture
starts the simplest broker for tests that only need a transport.
"""
from __future__ import annotations

import pytest

from tests.support import find_binary, free_port, stop_process, wait_for_port


@pytest.fixture
def mosquitto(tmp_path):
    import subprocess

    exe = find_binary("mosquitto", "/usr/sbin")
    if exe is None:
        pytest.fail("mosquitto is not installed (apt-get install mosquitto); the README test command installs it")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {tmp_path}/\nmax_queued_messages 1000\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield {"host": "127.0.0.1", "port": port, "process": proc}
    stop_process(proc)
