"""The `floorsync` command: groups registered, help text, config printing, config errors."""
from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from floorsync import cli as cli_mod
from floorsync import config


def run(*args, env=None):
    return CliRunner().invoke(cli_mod.build(), list(args), env=env or {}, catch_exceptions=False)


def test_help_lists_the_subcommands():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("config", "demo"):
        assert f"  {name}" in result.output


def test_config_markdown_lists_every_key():
    result = run("config", "--markdown")
    assert result.exit_code == 0
    for section, key, _default, _doc in config.documented_keys():
        assert f"| `{section}.{key}` | `FLOORSYNC_{section.upper()}_{key.upper()}` |" in result.output


def test_config_hides_passwords():
    result = run("config", env={"FLOORSYNC_BROKER_PASSWORD": "s3cret"})
    assert "s3cret" not in result.output
    assert "password = '***'" in result.output


def test_invalid_configuration_stops_with_the_key_named():
    result = CliRunner().invoke(cli_mod.build(), ["config"], env={"FLOORSYNC_EDGE_PORT": "abc"})
    assert result.exit_code == 1
    assert "invalid configuration: edge.port: expected an integer, got 'abc'" in result.output


def test_console_script_module_runs():
    out = subprocess.run([sys.executable, "-m", "floorsync.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage: floorsync" in out.stdout
