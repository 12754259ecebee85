"""Rendering a :class:`~audit.report.context.ReportContext` to HTML and PDF.

* HTML: one self-contained file. CSS is inlined, figures are inline SVG, the
  fonts are embedded as ``data:`` URLs subset to the characters used, and a
  Content-Security-Policy forbids scripts and any fetch but ``data:`` fonts
  and images. It opens offline.
* PDF: the same templates through WeasyPrint (print CSS: page numbers,
  running header, table of contents with page references), with
  :class:`~audit.report.fetcher.AssetFetcher` as the only way to load
  anything: the font files and ``data:`` URLs, nothing from the network or
  elsewhere on disk.

Templates are loaded from :func:`audit.report.assets.templates_dir` by a
Jinja2 environment with ``autoescape=True`` and ``StrictUndefined``: every
value from data is escaped, and a typo in a template fails loudly. Templates
call the figure functions through the ``figures`` global, passing their own
words.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from audit.report import assets, figures, size_figures, threshold_figures
from audit.report.changes import Changes
from audit.report.context import ReportContext
from audit.report.formatting import FILTERS
from audit.report.group_names import GroupNames, group_filter
from audit.report.inputs import FaceImage
from audit.tables import write_bytes
from audit.report.references import public_references
from audit.report.styles import GroupStyles

FORMATS = ("html", "pdf")
#: The short report's template and the stem of its files, written beside ``report.*``.
SHORT_TEMPLATE, SHORT_STEM = "short.html.j2", "short-report"
BAD_FORMAT = "report format must be one of {allowed}, got {got!r}"
NO_FORMAT = "ask for at least one report format ({allowed})"
BAD_FACE = "face image {path} is not a PNG or JPEG file"
#: The report's Content-Security-Policy: no script, no fetch but embedded fonts and images.
CSP = "default-src 'none'; style-src 'unsafe-inline'; font-src data:; img-src data:; base-uri 'none'; form-action 'none'"


class Figures:
    """The ``figures`` global of the templates: figure functions with their words.

    Each method returns a :class:`~audit.report.svg.SafeSvg`; the template
    passes every string printed on the figure. Drawn figures are kept, keyed
    by the data object and the words, so that rendering the HTML and the PDF
    of one report draws each figure once (pass the same instance to both).
    """

    _modules = {"forest": figures, "heatmap": figures, "sweep": threshold_figures,
                "det": threshold_figures, "disparity": threshold_figures,
                "watchlist_size": size_figures}
    #: Figures that draw groups, in the report-wide styles.
    _styled = ("forest", "sweep", "det", "watchlist_size")

    def __init__(self, styles: GroupStyles | None = None) -> None:
        self._drawn: dict[tuple, object] = {}
        self.styles = styles if styles is not None else GroupStyles()

    def _draw(self, name: str, data: object, **words: object):
        key = (name, id(data), tuple(sorted((k, repr(v)) for k, v in words.items())))
        if key not in self._drawn:
            extra = {"styles": self.styles} if name in self._styled else {}
            drawn = getattr(self._modules[name], name)(data, **words, **extra)
            self._drawn[key] = (data, drawn)  # keep data alive
        return self._drawn[key][1]

    def forest(self, data, **words):
        return self._draw("forest", data, **words)

    def heatmap(self, data, **words):
        return self._draw("heatmap", data, **words)

    def sweep(self, data, **words):
        return self._draw("sweep", data, **words)

    def det(self, data, **words):
        return self._draw("det", data, **words)

    def disparity(self, data, **words):
        return self._draw("disparity", data, **words)

    def watchlist_size(self, data, **words):
        return self._draw("watchlist_size", data, **words)


def environment(templates: Path | None = None, drawn: Figures | None = None,
                names: GroupNames | None = None) -> jinja2.Environment:
    """The report's Jinja2 environment (autoescape on, strict undefined); ``names`` (the
    ``group_names`` global) words the labels of groups of several columns."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates or assets.templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters["group"] = group_filter
    env.globals["group_names"] = names if names is not None else GroupNames()
    env.globals["inf"] = float("inf")
    env.globals["references"] = public_references()
    env.globals["figures"] = drawn if drawn is not None else Figures()
    return env


@dataclass
class PdfResult:
    """The PDF bytes and the fetcher's log of every URL asked for (url, allowed)."""

    data: bytes
    fetched: list[tuple[str, bool]]


def _face_data_url(face: FaceImage) -> str:
    data = Path(face.path).read_bytes()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "image/jpeg"
    else:
        raise ValueError(BAD_FACE.format(path=face.path))
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _render(
    context: ReportContext,
    font_css: str | None,
    *,
    medium: str,
    templates: Path | None,
    drawn: Figures | None,
) -> str:
    """Render the report's entry template; ``font_css`` None subsets and embeds the fonts."""
    return _render_template(
        assets.ENTRY_TEMPLATE,
        font_css,
        medium=medium,
        templates=templates,
        drawn=drawn if drawn is not None else Figures(GroupStyles(context.group_labels)),
        ctx=context,
        face_images=tuple((face, _face_data_url(face)) for face in context.faces),
    )


def _render_template(
    name: str,
    font_css: str | None,
    *,
    medium: str,
    templates: Path | None,
    drawn: Figures | None,
    **variables: object,
) -> str:
    marker = f"/*fonts-{secrets.token_hex(16)}*/"
    names = getattr(variables.get("ctx"), "group_names", None)  # a report's context
    template = environment(templates, drawn, names).get_template(name)
    html = template.render(font_css=Markup(marker), csp=CSP, medium=medium, **variables)
    css = font_css if font_css is not None else assets.font_face_css(html)
    return html.replace(marker, css, 1)


def _pdf(html: str, *, allow_images: bool, identifier: str) -> PdfResult:
    from weasyprint import HTML

    from audit.report.fetcher import AssetFetcher

    fetcher = AssetFetcher(assets.allowed_files(), allow_images=allow_images)
    document = HTML(string=html, url_fetcher=fetcher, media_type="print")
    # Tagged PDF: headings, tables and figure alternative text reach screen readers.
    data = document.write_pdf(pdf_identifier=identifier.encode("utf-8")[:32] or b"lfr-audit", pdf_tags=True)
    return PdfResult(data, list(fetcher.log))


def render_html(
    context: ReportContext, *, templates: Path | None = None, drawn: Figures | None = None
) -> str:
    """The report as one self-contained HTML document (fonts, CSS and figures inline).

    ``drawn`` shares drawn figures with a :func:`render_pdf` of the same context.
    """
    return _render(context, None, medium="screen", templates=templates, drawn=drawn)


def render_pdf(
    context: ReportContext, *, templates: Path | None = None, drawn: Figures | None = None
) -> PdfResult:
    """The report as PDF bytes, rendered by WeasyPrint with the asset-only fetcher.

    ``drawn`` shares drawn figures with a :func:`render_html` of the same context.
    """
    html = _render(context, assets.font_face_css(None), medium="print", templates=templates, drawn=drawn)
    return _pdf(html, allow_images=bool(context.faces), identifier=context.run.run_id)


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(formats))
    if not chosen:
        raise ValueError(NO_FORMAT.format(allowed=", ".join(FORMATS)))
    for name in chosen:
        if name not in FORMATS:
            raise ValueError(BAD_FORMAT.format(allowed=", ".join(FORMATS), got=name))
    return chosen


def write_report(
    context: ReportContext,
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
    *,
    templates: Path | None = None,
) -> dict[str, Path]:
    """Write ``report.html`` and/or ``report.pdf`` into ``out_dir``, each with the
    short report for the public beside it (``short-report.html`` / ``.pdf``).

    Parameters
    ----------
    context : ReportContext
        From :func:`audit.report.context.build_context`.
    out_dir : Path
        Created if missing. Files are written atomically (a reader sees the
        old file or the complete new one).
    formats : iterable of {"html", "pdf"}, default=("html", "pdf")
        Either alone, or both.
    templates : Path, default=None
        A template folder to use instead of :func:`audit.report.assets.templates_dir`.

    Returns
    -------
    dict
        Format -> path written; ``short_html`` / ``short_pdf`` -> the short report's.
    """
    chosen = _check_formats(formats)
    out = Path(out_dir)
    drawn = Figures(GroupStyles(context.group_labels))
    written = {}
    if "html" in chosen:
        written["html"] = out / "report.html"
        html = render_html(context, templates=templates, drawn=drawn)
        write_bytes(written["html"], html.encode("utf-8"))
    if "pdf" in chosen:
        written["pdf"] = out / "report.pdf"
        write_bytes(written["pdf"], render_pdf(context, templates=templates, drawn=drawn).data)
    short = write_document(SHORT_TEMPLATE, SHORT_STEM, out, chosen, identifier=context.run.run_id,
                           templates=templates, ctx=context)
    written.update({f"short_{name}": path for name, path in short.items()})
    return written


def render_report(
    metrics,
    run,
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
    *,
    include_faces: bool = False,
    templates: Path | None = None,
) -> dict[str, Path]:
    """Build the context from a metrics table and a RunInfo, then write the report.

    The one call behind ``lfr-audit report`` on a metrics table: long group
    labels shortened (:func:`audit.report.labels.with_short_labels`), then
    :func:`audit.report.context.build_context` and :func:`write_report`.
    ``include_faces`` is the explicit option without which no face image is
    embedded.
    """
    from audit.report.context import build_context
    from audit.report.coverage import measured_coverage
    from audit.report.labels import with_short_labels

    metrics, run = with_short_labels(metrics, run)
    context = build_context(metrics, run, include_faces=include_faces,
                            coverage=measured_coverage())
    return write_report(context, out_dir, formats, templates=templates)


def write_document(
    template: str,
    stem: str,
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
    *,
    identifier: str,
    templates: Path | None = None,
    **variables: object,
) -> dict[str, Path]:
    """Write ``<stem>.html`` and/or ``<stem>.pdf`` from a standalone ``template``.

    The same environment, escaping, fonts, Content-Security-Policy and
    asset-only PDF fetcher as the audit report; no face images. ``variables``
    are passed to the template.
    """
    chosen = _check_formats(formats)
    out = Path(out_dir)
    written = {}
    for name in ("html", "pdf"):
        if name not in chosen:
            continue
        # HTML: fonts subset and embedded; PDF: font files through the fetcher.
        font_css, medium = (None, "screen") if name == "html" else (assets.font_face_css(None), "print")
        html = _render_template(template, font_css, medium=medium, templates=templates,
                                drawn=None, **variables)
        data = html.encode("utf-8") if name == "html" else _pdf(
            html, allow_images=False, identifier=identifier).data
        written[name] = out / f"{stem}.{name}"
        write_bytes(written[name], data)
    return written


def write_changes(
    changes: Changes,
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
    *,
    templates: Path | None = None,
) -> dict[str, Path]:
    """Write ``changes.html`` and/or ``changes.pdf``: what changed between two runs."""
    return write_document("changes.html.j2", "changes", out_dir, formats,
                          identifier=changes.after, templates=templates, changes=changes)
