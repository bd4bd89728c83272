"""`floorsync labels ...`: render, preview and check label/document output."""
from __future__ import annotations

import json
import os
import sys

import click

from labels.errors import LabelError

KINDS = ("shipping", "sscc", "bin", "sku", "tote", "packing", "picklist", "manifest", "invoice", "cn22")
FORMATS = ("zpl", "escpos", "pdf", "png")


def _document(kind: str, sample: bool, input_path: str | None):
    from labels.core import samples
    from labels.core.documents import from_dict

    if sample == bool(input_path):
        raise click.UsageError("give exactly one of --sample or --input FILE.json")
    if sample:
        return samples.sample(kind)
    try:
        with open(input_path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read {input_path}: {exc}") from exc
    return from_dict(kind, data)


def _template(cfg, merchant: str | None, template_path: str | None):
    from labels import templates

    if template_path:
        return templates.load_template(template_path)
    if merchant:
        found = templates.load_templates(cfg.labels.templates_dir)
        if merchant not in found:
            raise click.ClickException(f"no template for merchant {merchant!r} in "
                                       f"{cfg.labels.templates_dir or '(labels.templates_dir is empty)'}")
        return found[merchant]
    return None


def _common(fn):
    fn = click.option("--doc", "kind", type=click.Choice(KINDS), required=True, help="Which document.")(fn)
    fn = click.option("--sample", is_flag=True, help="Use the built-in sample document.")(fn)
    fn = click.option("--input", "input_path", type=click.Path(dir_okay=False),
                      help="Document fields as JSON (same names as labels.documents).")(fn)
    fn = click.option("--merchant", help="Merchant id whose template (labels.templates_dir) to apply.")(fn)
    fn = click.option("--template", "template_path", type=click.Path(dir_okay=False),
                      help="A template TOML file to apply (overrides --merchant).")(fn)
    fn = click.option("--form", type=click.Choice(("label", "sheet", "receipt")),
                      help="Layout form for documents with several (packing slip: sheet or receipt).")(fn)
    fn = click.option("--dpi", type=click.Choice(("203", "300")), default=None,
                      help="Thermal resolution (default labels.dpi).")(fn)
    return fn


@click.group("labels")
def labels() -> None:
    """Shipping labels, SSCC, bin/SKU/tote labels, packing slips, pick lists, manifests, customs forms.

    One layout per document, rendered as ZPL, ESC/POS, PDF or a PNG preview.
    """


@labels.command("render")
@_common
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="zpl", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.pass_obj
def render_cmd(cfg, kind, sample, input_path, merchant, template_path, form, dpi, fmt, output) -> None:
    """Render one document (e.g. `--doc shipping --format zpl --sample`)."""
    from labels import render

    dpi = int(dpi or cfg.labels.dpi)
    try:
        doc = _document(kind, sample, input_path)
        tpl = _template(cfg, merchant, template_path)
        if fmt == "zpl":
            data = render.to_zpl(doc, dpi=dpi, template=tpl, unicode_font=cfg.labels.zpl_unicode_font)
        elif fmt == "escpos":
            data = render.to_escpos(doc, template=tpl, form=form)
        elif fmt == "pdf":
            data = render.to_pdf(doc, template=tpl, form=form, dpi=dpi)
        else:
            data = render.preview_png(doc, dpi=dpi, template=tpl, form=form)
    except LabelError as exc:
        raise click.ClickException(str(exc)) from exc
    if output:
        with open(output, "wb") as fh:
            fh.write(data)
        click.echo(f"wrote {len(data)} bytes to {output}", err=True)
    elif fmt in ("zpl",) or sys.stdout.isatty() is False:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        raise click.ClickException(f"{fmt} is binary: use -o FILE")


@labels.command("preview")
@_common
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="PNG file (default: <doc>-preview.png).")
@click.pass_obj
def preview_cmd(cfg, kind, sample, input_path, merchant, template_path, form, dpi, output) -> None:
    """Write a PNG preview of a document (what the reprint screen shows) and print its path."""
    from labels import render
    from labels.core import layouts

    try:
        doc = _document(kind, sample, input_path)
        tpl = _template(cfg, merchant, template_path)
        png = render.preview_png(doc, dpi=int(dpi or cfg.labels.dpi), template=tpl, form=form)
        lay = layouts.layout(doc, tpl, form)
    except LabelError as exc:
        raise click.ClickException(str(exc)) from exc
    output = output or f"{kind}-preview.png"
    with open(output, "wb") as fh:
        fh.write(png)
    problems = layouts.overflow(lay)
    click.echo(f"{os.path.abspath(output)}  ({lay.title}, {len(lay.pages)} page(s), "
               f"{'layout OK' if not problems else str(len(problems)) + ' overflow problem(s)'})")
    for p in problems:
        click.echo(f"  overflow: {p}", err=True)


@labels.command("check-templates")
@click.argument("directory", required=False)
@click.pass_obj
def check_templates(cfg, directory) -> None:
    """Validate every merchant template in DIRECTORY (default labels.templates_dir)."""
    from labels import templates

    directory = directory or cfg.labels.templates_dir
    if not directory:
        raise click.ClickException("no directory given and labels.templates_dir is empty")
    try:
        found = templates.load_templates(directory)
    except LabelError as exc:
        raise click.ClickException(str(exc)) from exc
    for merchant_id, tpl in sorted(found.items()):
        hidden = {d: sorted(v) for d, v in tpl.hidden.items() if v}
        click.echo(f"{merchant_id}: OK  brand={tpl.brand_name!r} paper={tpl.paper} logo={'yes' if tpl.logo else 'no'} "
                   f"hidden={hidden}")
    click.echo(f"{len(found)} template(s) valid")


@labels.command("list")
def list_cmd() -> None:
    """List the documents and the forms/formats each supports."""
    from labels.core import layouts, samples

    for kind in KINDS:
        doc = samples.sample(kind)
        forms = layouts.forms(doc)
        fmts = ["pdf", "png"] + (["zpl"] if "label" in forms else []) + \
               (["escpos"] if "receipt" in forms or "label" in forms else [])
        click.echo(f"{kind:9} {type(doc).__name__:18} forms={','.join(forms):14} formats={','.join(fmts)}")


@labels.command("gallery")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--merchant", help="Merchant id whose template (labels.templates_dir) to apply.")
@click.option("--template", "template_path", type=click.Path(dir_okay=False), help="A template TOML file to apply.")
@click.pass_obj
def gallery(cfg, directory, merchant, template_path) -> None:
    """Write every sample document (PNG, PDF, ZPL/ESC/POS) and an index.html to look at them in a browser."""
    import html

    from labels import render
    from labels.core import layouts, samples

    try:
        tpl = _template(cfg, merchant, template_path)
        os.makedirs(directory, exist_ok=True)
        cards = []
        for kind in KINDS:
            doc = samples.sample(kind)
            for form in layouts.forms(doc):
                stem = f"{kind}-{form}"
                files = {"png": render.preview_png(doc, dpi=cfg.labels.dpi, template=tpl, form=form),
                         "pdf": render.to_pdf(doc, template=tpl, form=form, dpi=cfg.labels.dpi)}
                if form == "label":
                    files["zpl"] = render.to_zpl(doc, dpi=cfg.labels.dpi, template=tpl,
                                                 unicode_font=cfg.labels.zpl_unicode_font)
                if form in ("label", "receipt"):
                    files["escpos"] = render.to_escpos(doc, template=tpl, form=form)
                for ext, data in files.items():
                    with open(os.path.join(directory, f"{stem}.{ext}"), "wb") as fh:
                        fh.write(data)
                links = " ".join(f'<a href="{stem}.{ext}">{ext.upper()}</a>' for ext in files if ext != "png")
                title = html.escape(layouts.layout(doc, tpl, form).title)
                cards.append(f'<figure><img src="{stem}.png" alt="{title}"><figcaption><b>{title}</b> '
                             f'<span>{form}</span> {links}</figcaption></figure>')
    except LabelError as exc:
        raise click.ClickException(str(exc)) from exc
    page = ("<!doctype html><meta charset=utf-8><title>floorsync labels</title><style>"
            "body{font:15px system-ui,sans-serif;background:#eef0f3;margin:24px;color:#222}"
            "h1{font-size:22px}main{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}"
            "figure{margin:0;background:#fff;padding:12px;border-radius:8px;box-shadow:0 1px 4px #0002}"
            "img{display:block;max-width:420px;max-height:560px;border:1px solid #ccc}"
            "figcaption{margin-top:8px}figcaption span{color:#777;margin:0 6px}a{margin-right:6px}</style>"
            "<h1>floorsync documents</h1><main>" + "".join(cards) + "</main>")
    with open(os.path.join(directory, "index.html"), "w", encoding="utf-8") as fh:
        fh.write(page)
    click.echo(f"{len(cards)} documents written to {os.path.abspath(directory)}/index.html")
