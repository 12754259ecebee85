"""Inline SVG that is safe to put in the report: parsed, checked, re-serialised.

matplotlib escapes the text it writes, but the report does not rely on that
alone. :func:`sanitize` parses the SVG (no DTD, no entities), keeps only the
drawing elements matplotlib emits, refuses event attributes, links that leave
the document (anything but ``#id``), ``url(...)`` other than ``url(#id)`` and
script-like values, and re-serialises the tree, which escapes every text node
and attribute again. :meth:`SafeSvg.inline` adds the accessible name (``<title>``)
and description (``<desc>``) the template words, escaped the same way.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ALLOWED_TAGS = frozenset(
    {
        "svg", "g", "path", "defs", "clipPath", "use", "text", "tspan", "rect", "circle",
        "ellipse", "line", "polyline", "polygon", "title", "desc", "pattern",
        "linearGradient", "radialGradient", "stop", "mask",
    }
)
#: Dropped: RDF metadata, and matplotlib's ``<style>`` (``*{stroke-linejoin: round;
#: stroke-linecap: butt}``), which inline in HTML would style the whole page; the
#: report's CSS sets the same two properties on its charts.
DROPPED_TAGS = frozenset({"metadata", "style"})
_URL = re.compile(r"url\(\s*(['\"]?)(?P<target>[^)'\"]*)\1\s*\)", re.IGNORECASE)
_SCRIPTY = re.compile(r"javascript:|expression\(|@import|<\s*script", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", re.IGNORECASE)
_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
UNSAFE = "unsafe SVG from the figure code: {what}"


class UnsafeSvgError(ValueError):
    """The SVG holds something a report must not carry (a bug in figure code)."""


def plain(text: object) -> str:
    """Plain text of a template string: Markup (already escaped) is unescaped once.

    Jinja's ``~`` joins data into Markup; the SVG writer escapes again, so the
    words are unescaped first to be escaped exactly once.
    """
    return text.unescape() if isinstance(text, Markup) else str(text)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _check_value(value: str, where: str) -> None:
    if _SCRIPTY.search(value):
        raise UnsafeSvgError(UNSAFE.format(what=f"script-like value in {where}"))
    for match in _URL.finditer(value):
        if not match["target"].startswith("#"):
            raise UnsafeSvgError(UNSAFE.format(what=f"external url() in {where}"))


def _clean(element: ET.Element) -> None:
    for child in list(element):
        tag = _local(child.tag) if isinstance(child.tag, str) else ""
        if tag in DROPPED_TAGS or not isinstance(child.tag, str):
            element.remove(child)
            continue
        if tag not in ALLOWED_TAGS:
            raise UnsafeSvgError(UNSAFE.format(what=f"element <{tag}>"))
        _clean(child)
    for name, value in list(element.attrib.items()):
        local = _local(name)
        if local.lower().startswith("on"):
            raise UnsafeSvgError(UNSAFE.format(what=f"event attribute {local}"))
        if local == "href" and not value.startswith("#"):
            raise UnsafeSvgError(UNSAFE.format(what="link outside the figure"))
        _check_value(value, f"attribute {local}")


@dataclass(frozen=True)
class SafeSvg:
    """A checked SVG figure; :meth:`inline` gives the markup for the report."""

    markup: str  # the checked, re-serialised SVG (no XML declaration, no DOCTYPE)

    def inline(self, id: str, title: str, desc: str) -> Markup:
        """The SVG with ``role="img"``, an escaped ``<title>`` and ``<desc>``.

        ``id`` must be a plain identifier (letters, digits, ``-``, ``_``); the
        accessible name and description are the template's words.
        """
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", id):
            raise ValueError(f"figure id must be a plain identifier, got {id!r}")
        _register()
        root = ET.fromstring(self.markup)  # a fresh tree each call
        title_el = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{id}-title"})
        title_el.text = plain(title)
        desc_el = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{id}-desc"})
        desc_el.text = plain(desc)
        root.insert(0, desc_el)
        root.insert(0, title_el)
        root.set("role", "img")
        root.set("aria-labelledby", f"{id}-title")
        root.set("aria-describedby", f"{id}-desc")
        root.set("id", id)
        root.set("class", "chart")
        return Markup(ET.tostring(root, encoding="unicode"))


def _register() -> None:
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)


def _prefix_ids(root: ET.Element, prefix: str) -> None:
    """Make ids unique in a page holding many figures: ``x`` -> ``<prefix>-x``."""
    ids = {el.get("id") for el in root.iter() if el.get("id")}

    def relink(value: str) -> str:
        value = _URL.sub(
            lambda m: f"url(#{prefix}-{m['target'][1:]})" if m["target"][1:] in ids else m[0], value
        )
        return value

    for el in root.iter():
        for name, value in list(el.attrib.items()):
            local = _local(name)
            if local == "id":
                el.set(name, f"{prefix}-{value}")
            elif local == "href" and value[1:] in ids:
                el.set(name, f"#{prefix}-{value[1:]}")
            elif "url(" in value:
                el.set(name, relink(value))


def sanitize(svg: str, prefix: str = "fig") -> SafeSvg:
    """Parse, check and re-serialise an SVG document.

    Raises :class:`UnsafeSvgError` on anything outside the allow-list; text
    content is kept as text (escaped on output), whatever characters it holds.
    Every ``id`` (and every ``#id`` reference) gets ``prefix`` so that many
    figures can share one HTML page.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", prefix):
        raise ValueError(f"prefix must be a plain identifier, got {prefix!r}")
    if "<!ENTITY" in svg:
        raise UnsafeSvgError(UNSAFE.format(what="entity declaration"))
    text = _DOCTYPE.sub("", _DECLARATION.sub("", svg), count=1)
    if "<!DOCTYPE" in text:
        raise UnsafeSvgError(UNSAFE.format(what="a second DTD"))
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise UnsafeSvgError(UNSAFE.format(what=f"not well-formed XML ({error})")) from None
    if _local(root.tag) != "svg":
        raise UnsafeSvgError(UNSAFE.format(what=f"root element <{_local(root.tag)}>"))
    _clean(root)
    for name, value in list(root.attrib.items()):
        _check_value(value, f"attribute {_local(name)}")
    _prefix_ids(root, prefix)
    _register()
    return SafeSvg(ET.tostring(root, encoding="unicode"))
