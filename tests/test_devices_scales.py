"""Scale drivers against the scale simulator on a real pty, for every protocol and fault."""
from __future__ import annotations

import threading
import time

import pytest

from devices import errors
from devices.health import DeviceHealth, HealthMonitor, scale_probe
from devices.scales import CasScale, MtSicsScale, NciScale, open_scale
from devices.sim.scale import ScaleSim

PROTOCOLS = ["mt-sics", "nci", "cas"]


@pytest.fixture(params=PROTOCOLS)
def rig(request):
    with ScaleSim(request.param) as sim:
        scale = open_scale(request.param, sim.path)
        yield sim, scale
        scale.close()


def test_open_scale_picks_the_driver_and_refuses_bad_config():
    assert isinstance(open_scale("mt-sics", "/dev/null"), MtSicsScale)
    assert isinstance(open_scale("nci", "/dev/null"), NciScale)
    assert isinstance(open_scale("cas", "/dev/null"), CasScale)
    with pytest.raises(errors.DeviceConfigError):
        open_scale("toledo-8142", "/dev/ttyUSB0")
    with pytest.raises(errors.DeviceConfigError):
        open_scale("nci", "")


def test_stable_weight_in_grams(rig):
    sim, scale = rig
    sim.set_weight(1234)
    assert scale.read_stable(2.0) == 1234
    sim.set_weight(25_000)
    assert scale.read_stable(2.0) == 25_000


def test_no_weight_from_an_unstable_frame(rig):
    sim, scale = rig
    sim.set_weight(900)
    sim.set_motion(True)
    t0 = time.monotonic()
    with pytest.raises(errors.ScaleUnstable) as info:
        scale.read_stable(0.4)
    assert 0.35 < time.monotonic() - t0 < 1.5
    assert "motion 900 g" in str(info.value)
    reading = scale.read(1.0)
    assert (reading.state, reading.grams) == ("motion", 900)


def test_settling_load_returns_the_settled_weight(rig):
    sim, scale = rig
    sim.set_weight(2500, settle_s=0.3)
    t0 = time.monotonic()
    assert scale.read_stable(2.0) == 2500
    assert time.monotonic() - t0 >= 0.28


def test_overload_and_under_zero_are_typed(rig):
    sim, scale = rig
    sim.set_overload(True)
    with pytest.raises(errors.ScaleOverload):
        scale.read_stable(1.0)
    sim.set_overload(False)
    sim.set_weight(-40)
    with pytest.raises(errors.ScaleUnderZero):
        scale.read_stable(1.0)


def test_garbage_frames_are_skipped(rig):
    sim, scale = rig
    sim.set_weight(700)
    sim.garbage(2)
    assert scale.read_stable(2.0) == 700
    assert scale.garbage_frames >= 2


def test_only_garbage_is_a_protocol_error(rig):
    sim, scale = rig
    sim.garbage(10_000)
    time.sleep(0.1)  # a streaming (CAS) scale may have a good frame in flight from before
    with pytest.raises(errors.ScaleProtocolError):
        scale.read_stable(0.3)


def test_unplug_reports_disconnected_and_replug_reconnects(rig):
    sim, scale = rig
    health = DeviceHealth()
    scale.health = health
    sim.set_weight(1500)
    assert scale.read_stable(1.0) == 1500
    assert health.state(scale.name) == "online"
    sim.unplug()
    with pytest.raises(errors.ScaleDisconnected):
        scale.read_stable(0.5)
    assert health.state(scale.name) == "offline"
    with pytest.raises(errors.ScaleDisconnected):  # path gone: cannot reopen
        scale.read_stable(0.2)
    sim.plug()
    assert scale.read_stable(1.0) == 1500
    assert health.state(scale.name) == "online"


def test_mt_sics_tare_and_zero():
    with ScaleSim("mt-sics") as sim, MtSicsScale(sim.path) as scale:
        sim.set_weight(300)
        assert scale.tare() == 300
        assert scale.read_stable(1.0) == 0
        sim.set_weight(1300)
        assert scale.read_stable(1.0) == 1000
        sim.set_motion(True)
        with pytest.raises(errors.ScaleUnstable):
            scale.tare()
        with pytest.raises(errors.ScaleUnstable):
            scale.zero()
        sim.set_motion(False)
        scale.zero()
        assert scale.read_stable(1.0) == 0
        assert [c for c in sim.commands if c in ("T", "Z")] == ["T", "T", "Z", "Z"]


def test_nci_zero_and_units_in_pounds():
    with ScaleSim("nci") as sim, NciScale(sim.path) as scale:
        sim.set_weight(4536)  # 10.000 lb on the wire
        assert scale.read(1.0).unit == "lb"
        assert scale.read_stable(1.0) == 4536
        sim.set_motion(True)
        with pytest.raises(errors.ScaleUnstable):
            scale.zero()
        sim.set_motion(False)
        scale.zero()
        assert scale.read_stable(1.0) == 0
    with pytest.raises(errors.ScaleError):
        CasScale("/dev/null").tare()


def test_a_silent_scale_never_blocks_longer_than_its_timeout():
    with ScaleSim("mt-sics") as sim:
        sim._stop.set()  # the scale firmware hangs: port open, no answers
        sim._thread.join(2)
        scale = MtSicsScale(sim.path)
        t0 = time.monotonic()
        with pytest.raises(errors.ScaleDisconnected):
            scale.read_stable(0.3)
        assert time.monotonic() - t0 < 1.0
        scale.close()


def test_health_probe_for_scale():
    with ScaleSim("cas") as sim:
        scale = open_scale("cas", sim.path)
        health = DeviceHealth()
        monitor = HealthMonitor(health, interval_s=60)
        monitor.add("pack-scale", "scale", scale_probe(scale))
        monitor.check_now()
        assert health.state("pack-scale") == "online"
        sim.unplug()
        monitor.check_now()
        assert health.state("pack-scale") == "offline"
        sim.plug()
        monitor.check_now()
        assert health.state("pack-scale") == "online"
        scale.close()


def test_concurrent_readers_are_serialised():
    with ScaleSim("mt-sics") as sim, MtSicsScale(sim.path) as scale:
        sim.set_weight(4242)
        results, errs = [], []

        def reader():
            try:
                for _ in range(10):
                    results.append(scale.read_stable(2.0))
            except Exception as exc:  # collected and asserted below
                errs.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert errs == [] and results == [4242] * 30
