"""The README documents every CLI command and every configuration key."""
from __future__ import annotations

import pathlib

import click
import pytest

from floorsync import cli as cli_mod
from floorsync import config

README = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "floorsync") -> list[str]:
    paths = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        paths.append(path)
        if isinstance(cmd, click.Group):
            paths += command_paths(cmd, path)
    return paths


@pytest.mark.parametrize("path", command_paths(cli_mod.build()))
def test_cli_command_is_in_readme(path):
    assert f"`{path}" in README, f"README does not mention `{path}`"


@pytest.mark.parametrize("section,key", [(s, k) for s, k, _d, _doc in config.documented_keys()])
def test_config_key_is_in_readme(section, key):
    assert f"`{section}.{key}`" in README, f"README does not document `{section}.{key}`"


@pytest.mark.parametrize("section,key,doc", [(s, k, d) for s, k, _x, d in config.documented_keys()])
def test_config_key_has_a_doc_line(section, key, doc):
    assert doc.strip(), f"{section}.{key} has no metadata doc"
