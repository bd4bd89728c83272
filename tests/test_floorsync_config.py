"""Configuration: defaults < TOML file < FLOORSYNC_* env; bad values fail naming the key."""
from __future__ import annotations

import dataclasses

import pytest

from floorsync import config


def write(tmp_path, text):
    p = tmp_path / "floorsync.toml"
    p.write_text(text)
    return p


def test_defaults_when_nothing_is_configured():
    cfg = config.load(env={})
    assert cfg.edge.site_id == "EWR1"
    assert cfg.broker.port == 1883
    assert cfg.general.data_dir == "./floorsync-data"


def test_file_then_environment_precedence(tmp_path):
    path = write(tmp_path, '[edge]\nsite_id = "LAX1"\nport = 8200\n[broker]\nport = 18830\n')
    cfg = config.load(path, env={"FLOORSYNC_EDGE_PORT": "8300"})
    assert (cfg.edge.site_id, cfg.edge.port, cfg.broker.port) == ("LAX1", 8300, 18830)


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, '[edge]\nsite_id = "DFW1"\n')
    assert config.load(env={"FLOORSYNC_CONFIG": str(path)}).edge.site_id == "DFW1"


def test_config_is_immutable():
    cfg = config.load(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.edge.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("text,message", [
    ('[edge]\nport = "eighty"\n', "edge.port: expected an integer, got 'eighty'"),
    ('[edge]\nsite_id = "ewr 1"\n', "edge.site_id: must be 2-12 upper-case letters/digits, got 'ewr 1'"),
    ('[edge]\nsite = "EWR1"\n', "edge.site: unknown key"),
    ('[warehouse]\nx = 1\n', "warehouse: unknown section"),
    ('[broker]\nport = 70000\n', "broker.port: must be 1-65535, got 70000"),
    ('[general]\nlog_format = "xml"\n', "general.log_format: must be one of auto, json, text, got 'xml'"),
    ('[broker]\ntls = "maybe"\n', "broker.tls: expected true/false, got 'maybe'"),
    ('edge = [', "invalid TOML"),
])
def test_invalid_file_names_key_and_problem(tmp_path, text, message):
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, text), env={})
    assert message in str(err.value)


def test_invalid_environment_value_names_key():
    with pytest.raises(config.ConfigError, match=r"broker\.port: expected an integer, got 'x'"):
        config.load(env={"FLOORSYNC_BROKER_PORT": "x"})


def test_environment_booleans():
    assert config.load(env={"FLOORSYNC_BROKER_TLS": "yes"}).broker.tls is True
    assert config.load(env={"FLOORSYNC_BROKER_TLS": "0"}).broker.tls is False


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml", env={})


def test_replace_validates():
    cfg = config.load(env={})
    assert cfg.replace("edge", site_id="LAX1").edge.site_id == "LAX1"
    with pytest.raises(config.ConfigError):
        cfg.replace("edge", site_id="bad id")
