"""Configuration: one TOML file plus FLOORSYNC_* environment variables, loaded once.

Each package declares its own section as a frozen dataclass (``central.config``,
``edge.config``, ...). Every field has a default and a ``metadata={"doc": ...}`` line; the
loader checks types, applies ``FLOORSYNC_<SECTION>_<KEY>`` overrides and fails at start with
a :class:`ConfigError` naming the key and the problem. The result is an immutable
:class:`Config` passed down explicitly — nothing reads the environment later.

Precedence: defaults < TOML file < environment.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


class ConfigError(ValueError):
    """Invalid configuration; the message names the key (``section.key``) and the problem."""


ENV_PREFIX = "FLOORSYNC_"


@dataclass(frozen=True)
class GeneralConfig:
    """Settings shared by every process."""

    data_dir: str = field(default="./floorsync-data", metadata={"doc": "directory holding all state (databases, broker persistence, logs)"})
    log_format: str = field(default="auto", metadata={"doc": "`json`, `text`, or `auto` (JSON when stderr is not a TTY)", "choices": ("auto", "json", "text")})
    log_level: str = field(default="INFO", metadata={"doc": "minimum log level", "choices": ("DEBUG", "INFO", "WARNING", "ERROR")})


def _section_classes() -> dict[str, type]:
    # Imported here, not at module import, so `floorsync.config` stays cheap and cycle-free.
    from central.config import CentralConfig
    from devices.config import DevicesConfig
    from edge.config import EdgeConfig
    from labels.config import LabelsConfig
    from sync.config import BrokerConfig, SyncConfig

    return {
        "general": GeneralConfig,
        "broker": BrokerConfig,
        "sync": SyncConfig,
        "central": CentralConfig,
        "edge": EdgeConfig,
        "devices": DevicesConfig,
        "labels": LabelsConfig,
    }


@dataclass(frozen=True)
class Config:
    general: Any
    broker: Any
    sync: Any
    central: Any
    edge: Any
    devices: Any
    labels: Any

    def replace(self, section: str, **changes: Any) -> "Config":
        """A copy with some keys of one section changed (validated like loaded values)."""
        current = getattr(self, section)
        merged = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
        merged.update(changes)
        return dataclasses.replace(self, **{section: build_section(section, type(current), merged)})


def _coerce(section: str, name: str, typ: Any, value: Any, from_env: bool) -> Any:
    where = f"{section}.{name}"
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None or (from_env and value == ""):
            if type(None) in args:
                return None
        return _coerce(section, name, non_none[0], value, from_env)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if from_env and str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if from_env:
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_env:
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if origin is tuple:
        if from_env and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else str
        return tuple(_coerce(section, name, inner, v, from_env) for v in value)
    if origin is dict or typ is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return types.MappingProxyType(dict(value))
    return value


def build_section(section: str, cls: type, values: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Any:
    """Build one frozen section from a mapping (TOML table) and env overrides, validating each key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        env_key = f"{ENV_PREFIX}{section.upper()}_{name.upper()}"
        if env is not None and env_key in env:
            kwargs[name] = _coerce(section, name, hints[name], env[env_key], from_env=True)
        elif name in values:
            kwargs[name] = _coerce(section, name, hints[name], values[name], from_env=False)
        else:
            continue
        choices = f.metadata.get("choices")
        if choices and kwargs[name] not in choices:
            raise ConfigError(f"{section}.{name}: must be one of {', '.join(map(str, choices))}, got {kwargs[name]!r}")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from exc
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"{section}.{exc}") from exc
    return obj


def load(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load configuration once: defaults, then the TOML file (if given), then FLOORSYNC_* env vars.

    ``path`` defaults to ``$FLOORSYNC_CONFIG`` when set.
    """
    env = dict(os.environ if env is None else env)
    path = path or env.get("FLOORSYNC_CONFIG")
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: invalid TOML: {exc}") from exc
    classes = _section_classes()
    unknown = sorted(set(data) - set(classes))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section (known: {', '.join(classes)})")
    sections = {}
    for name, cls in classes.items():
        table = data.get(name, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{name}: expected a table")
        sections[name] = build_section(name, cls, table, env)
    return Config(**sections)


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every setting; the README lists all of them."""
    rows = []
    for section, cls in _section_classes().items():
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
            rows.append((section, f.name, default, f.metadata.get("doc", "")))
    return rows
