"""Where the text of a PDF sits on its pages, from ``pdftotext -bbox-layout``.

The page-flow tests read the rendered report as a reader sees it: which text
ends each page, and how far down each page the text reaches.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

#: The report's page margins (report.css ``@page``): 22 mm top, 20 mm bottom, in points.
TOP, BOTTOM = 22 / 25.4 * 72, 20 / 25.4 * 72


@dataclass(frozen=True)
class Line:
    top: float
    bottom: float
    text: str


@dataclass(frozen=True)
class Page:
    number: int
    height: float
    lines: tuple[Line, ...]  # body text only (running header and footer left out), top to bottom

    @property
    def fill(self) -> float:
        """Share of the body height the text reaches down to (0 for a page without text)."""
        if not self.lines:
            return 0.0
        body = self.height - TOP - BOTTOM
        return (self.lines[-1].bottom - TOP) / body


def pages(pdf: Path, pdftotext: str = "pdftotext") -> list[Page]:
    """Every page's body lines with their vertical extent, in reading order."""
    out = subprocess.run([pdftotext, "-bbox-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    out = re.sub(r"<!DOCTYPE[^>]*>", "", out)
    root = ET.fromstring(out)
    found = []
    for n, page in enumerate(root.iter("{http://www.w3.org/1999/xhtml}page"), start=1):
        height = float(page.get("height"))
        lines = []
        for line in page.iter("{http://www.w3.org/1999/xhtml}line"):
            words = [w.text or "" for w in line.iter("{http://www.w3.org/1999/xhtml}word")]
            top, bottom = float(line.get("yMin")), float(line.get("yMax"))
            if top >= TOP - 6 and bottom <= height - BOTTOM + 6:
                lines.append(Line(top, bottom, " ".join(words)))
        found.append(Page(n, height, tuple(sorted(lines, key=lambda l: (l.top, l.text)))))
    return found
