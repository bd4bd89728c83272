"""Load per-merchant templates from TOML files, validated at load with clear errors."""
from __future__ import annotations

import os
import tomllib

from labels.core.errors import TemplateError
from labels.core.template import DEFAULT_TEMPLATE, Template, parse_template


def load_template(path: str) -> Template:
    """Parse and validate one template file; a relative ``logo`` is resolved against its folder."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise TemplateError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path}: not valid TOML: {exc}") from exc
    tpl = parse_template(data, source=path)
    if tpl.logo:
        logo = tpl.logo if os.path.isabs(tpl.logo) else os.path.join(os.path.dirname(os.path.abspath(path)), tpl.logo)
        _check_logo(path, logo)
        from dataclasses import replace

        tpl = replace(tpl, logo=logo)
    return tpl


def _check_logo(source: str, logo: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(logo) as img:
            img.verify()
            fmt = img.format
    except FileNotFoundError as exc:
        raise TemplateError(f"{source}: logo: file {logo!r} not found") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise TemplateError(f"{source}: logo: {logo!r} is not a readable image: {exc}") from exc
    if fmt not in ("PNG", "JPEG", "GIF"):
        raise TemplateError(f"{source}: logo: {logo!r} is {fmt}; use PNG, JPEG or GIF")


def load_templates(directory: str) -> dict[str, Template]:
    """Every ``*.toml`` in ``directory`` keyed by merchant_id (duplicates are an error)."""
    found: dict[str, Template] = {}
    if not directory:
        return found
    if not os.path.isdir(directory):
        raise TemplateError(f"{directory}: templates directory not found")
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".toml"):
            continue
        tpl = load_template(os.path.join(directory, name))
        if tpl.merchant_id in found:
            raise TemplateError(f"{os.path.join(directory, name)}: merchant_id: {tpl.merchant_id!r} is also "
                                "defined by another template")
        found[tpl.merchant_id] = tpl
    return found


def template_for(templates: dict[str, Template], merchant_id: str) -> Template:
    return templates.get(merchant_id, DEFAULT_TEMPLATE)
