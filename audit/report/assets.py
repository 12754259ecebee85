"""Files the report ships with: its templates and its fonts.

* Templates live in ``reports/templates/`` at the repository root, installed
  as package data of the ``reports`` package (a wheel carries them), or
  wherever ``$LFR_AUDIT_TEMPLATES`` points.
* Fonts are the DejaVu Sans TTFs that ship inside matplotlib
  (``matplotlib/mpl-data/fonts/ttf/``), a dependency of the install: no system
  font and no download. The HTML embeds them as ``data:`` URLs, subset to the
  characters the page uses; the PDF references the files through the
  report's URL fetcher, which allows exactly these files.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TEMPLATES_ENV = "LFR_AUDIT_TEMPLATES"
ENTRY_TEMPLATE = "report.html.j2"
NO_TEMPLATES = (
    "report templates not found: looked in {places}. Set ${env} to the folder "
    "holding {entry}, or reinstall lfr-audit"
)
#: The report's font family name in CSS, SVG and matplotlib.
FAMILY = "DejaVu Sans"


@dataclass(frozen=True)
class FontFace:
    """One face of the report's font: CSS weight and style, and its TTF file."""

    weight: str
    style: str
    path: Path


def templates_dir() -> Path:
    """The folder holding the report templates (see module notes for the search order)."""
    candidates = []
    if os.environ.get(TEMPLATES_ENV):
        candidates.append(Path(os.environ[TEMPLATES_ENV]))
    # beside the audit package: the checkout's root, or site-packages for a wheel
    candidates.append(Path(__file__).resolve().parents[2] / "reports" / "templates")
    for place in candidates:
        if (place / ENTRY_TEMPLATE).is_file():
            return place
    raise FileNotFoundError(
        NO_TEMPLATES.format(places=", ".join(map(str, candidates)), env=TEMPLATES_ENV, entry=ENTRY_TEMPLATE)
    )


@cache
def font_faces() -> tuple[FontFace, ...]:
    """DejaVu Sans regular, bold, oblique and bold oblique from matplotlib's data folder."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = (
        FontFace("normal", "normal", folder / "DejaVuSans.ttf"),
        FontFace("bold", "normal", folder / "DejaVuSans-Bold.ttf"),
        FontFace("normal", "italic", folder / "DejaVuSans-Oblique.ttf"),
        FontFace("bold", "italic", folder / "DejaVuSans-BoldOblique.ttf"),
    )
    for face in faces:
        if not face.path.is_file():
            raise FileNotFoundError(f"matplotlib's font {face.path} is missing; reinstall matplotlib")
    return faces


def subset_font(path: Path, text: str) -> bytes:
    """The TTF at ``path`` cut down to the glyphs ``text`` needs (plus ASCII).

    Uses fontTools (a dependency of matplotlib and WeasyPrint). The output
    is deterministic for the same font and characters.
    """
    import logging

    from fontTools import subset

    # fontTools logs every table it cannot subset (e.g. FFTM) as a warning; they are harmless.
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the licence and family names
    options.notdef_outline = True
    options.layout_features = ["*"]
    font = subset.load_font(str(path), options)
    characters = set(text) | {chr(c) for c in range(0x20, 0x7F)}
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in characters])
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = None
    # A fixed modification time keeps the bytes the same from run to run.
    if "head" in font:
        font["head"].modified = font["head"].created
    font.save(out, reorderTables=True)
    return out.getvalue()


def font_face_css(text: str | None) -> str:
    """``@font-face`` rules for the report font.

    With ``text``: the fonts are subset to it and embedded as ``data:`` URLs
    (a self-contained HTML file). With None: ``file:`` URLs of the TTFs, for
    the PDF renderer's fetcher.
    """
    rules = []
    for face in font_faces():
        if text is None:
            source = face.path.resolve().as_uri()
        else:
            data = base64.b64encode(subset_font(face.path, text)).decode("ascii")
            source = f"data:font/ttf;base64,{data}"
        rules.append(
            "@font-face { "
            f"font-family: '{FAMILY}'; font-weight: {face.weight}; font-style: {face.style}; "
            f"src: url('{source}') format('truetype'); }}"
        )
    return "\n".join(rules)


def allowed_files() -> frozenset[Path]:
    """The only local files the PDF renderer may read."""
    return frozenset(face.path.resolve() for face in font_faces())
