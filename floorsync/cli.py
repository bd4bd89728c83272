"""The `floorsync` command. Each subcommand group lives next to the package it drives."""
from __future__ import annotations

import sys

import click

from floorsync import config as config_mod
from floorsync import log


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="FLOORSYNC_CONFIG",
              help="TOML configuration file (also $FLOORSYNC_CONFIG). Env vars FLOORSYNC_<SECTION>_<KEY> override it.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Directory holding all state (overrides general.data_dir).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, data_dir: str | None) -> None:
    """floorsync: warehouse-floor edge nodes synced over MQTT to a central order service."""
    try:
        cfg = config_mod.load(config_path)
        if data_dir:
            cfg = cfg.replace("general", data_dir=data_dir)
    except config_mod.ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from exc
    log.setup(cfg.general.log_format, cfg.general.log_level)
    ctx.obj = cfg


def _register() -> None:
    # Imported lazily by main() so `import floorsync.cli` does nothing at import time.
    import importlib

    for module, attr in (
        ("central.cli", "central"),
        ("central.routing.cli", "simulate"),
        ("edge.cli", "edge"),
        ("sync.cli", "broker"),
        ("devices.cli", "sim"),
        ("labels.cli", "labels"),
        ("floorsync.demo", "demo"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # that capability has not landed yet
            raise
        cli.add_command(getattr(mod, attr))


_registered = False


def build() -> click.Group:
    global _registered
    if not _registered:
        _register()
        _registered = True
    return cli


def main() -> None:
    build()(prog_name="floorsync")



@cli.command("config")
@click.option("--markdown", is_flag=True, help="Print every setting with its default as a Markdown table.")
@click.pass_obj
def config_cmd(cfg, markdown: bool) -> None:
    """Print the effective configuration (or the table of all settings)."""
    import dataclasses

    if markdown:
        click.echo("| key | env | default | meaning |\n|---|---|---|---|")
        for section, key, default, doc in config_mod.documented_keys():
            env = f"{config_mod.ENV_PREFIX}{section.upper()}_{key.upper()}"
            click.echo(f"| `{section}.{key}` | `{env}` | `{default!r}` | {doc} |")
        return
    for section in dataclasses.fields(cfg):
        click.echo(f"[{section.name}]")
        obj = getattr(cfg, section.name)
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            shown = "***" if "password" in f.name and value else value
            click.echo(f"{f.name} = {shown!r}")
        click.echo()


if __name__ == "__main__":
    sys.exit(main())
