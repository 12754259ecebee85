"""Safety of the report: hostile strings stay text, nothing is fetched, no face unless asked.

Every string that comes from data (group labels, dataset names, notes, spec
and provenance fields, file names, run id and title) is replaced by markup or
URLs that would run script or fetch something if they were not escaped. A
loopback HTTP server records any request; the hostile report is opened in
headless Chromium and rendered to PDF, and the server must see nothing.
"""

from __future__ import annotations

import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from report_tables import run_info as synthetic_run
from test_report_render import chromium_dom, small_metrics, tool

from audit.metrics import table as metrics_table
from audit.report import assets, figures
from audit.report.context import build_context
from audit.report.inputs import DatasetInfo, FaceImage, SystemUnderTest, ThresholdInfo
from audit.report.render import render_html, render_pdf, write_report
from audit.report.svg import UnsafeSvgError, sanitize

SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\"> / a vs b"
CSS = "url(file:///etc/passwd)"
TITLE = "</title><script>document.title='pwned'</script>"
JINJA = "{{ 7*7 }}{% raw %}"
FILE = "../../../etc/passwd"


class Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        Recorder.requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Recorder.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def network(base: str) -> str:
    return (
        f'<img src="{base}/img.png"><link rel="stylesheet" href="{base}/link.css">'
        f"<style>@import url({base}/import.css);</style><iframe src=\"{base}/frame\"></iframe>"
    )


def hostile_metrics(base: str):
    """The small hand-made table with groups "a" and "b" renamed to markup, in both group columns."""
    frame = small_metrics().to_pandas()
    names = {"a": SCRIPT, "b": IMG + network(base)}
    for column in ("group", "group_b"):
        frame[column] = frame[column].map(lambda g: names.get(g, g))
    return metrics_table.to_table(frame)


def hostile_run(base: str, **changes):
    dataset = DatasetInfo(
        name=CSS + network(base),
        label_origin=IMG,
        subjects=10,
        images=20,
        notes=(SCRIPT, JINJA),
        citation=f"<a href='{base}/cite'>cite</a>",
        fingerprint=CSS,
    )
    return synthetic_run(
        run_id="run-" + JINJA,
        title=TITLE,
        spec={"name": SCRIPT, "datasets": [{"name": CSS, "root": FILE}], "javascript": "javascript:alert(1)"},
        provenance={"versions": {IMG: SCRIPT}, "weights": {FILE: "sha256:" + CSS}},
        system=SystemUnderTest(
            model=IMG, detector=SCRIPT, distance=CSS,
            thresholds=(ThresholdInfo(0.60, "deployment", "spec", network(base)),),
        ),
        datasets=(dataset,),
        **changes,
    )


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_title = tag == "title" and not self.title

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title.append(data)


@pytest.fixture(scope="module")
def hostile(server):
    context = build_context(hostile_metrics(server), hostile_run(server))
    return context, render_html(context)


def test_hostile_strings_are_text_in_html(hostile):
    _, html = hostile
    page = Elements()
    page.feed(html)
    for tag in ("script", "img", "link", "iframe", "object", "embed"):
        assert tag not in page.tags, tag
    assert set(re.findall(r'<a href="([^"]*)"', html)) <= {f"#{i}" for i in re.findall(r'id="([^"]+)"', html)}
    assert page.tags.count("style") == 1  # the report's own stylesheet
    text = "".join(page.text)
    for hostile_string in (SCRIPT, TITLE, CSS, FILE, JINJA, "javascript:alert(1)"):
        assert hostile_string in text, hostile_string
    assert "{{ 7*7 }}" in text and "run-49" not in text  # no template injection
    assert "".join(page.title).startswith(TITLE)


def test_hostile_labels_stay_text_inside_figures(hostile):
    _, html = hostile
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert svgs
    texts = []
    for svg in svgs:
        root = ET.fromstring(svg)
        for element in root.iter():
            tag = element.tag.rsplit("}", 1)[-1]
            assert tag not in ("script", "foreignObject", "image", "a"), tag
            assert not any(name.lower().startswith("on") for name in element.attrib)
            texts.append(element.text or "")
    assert any(SCRIPT in t for t in texts)  # the label, drawn as text


def test_chromium_runs_no_script_and_fetches_nothing(hostile, server, tmp_path):
    _, html = hostile
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    before = list(Recorder.requests)
    dom = chromium_dom(path, tmp_path / "profile")
    page = Elements()
    page.feed(dom)
    title = "".join(page.title)
    assert title.startswith(TITLE) and title != "pwned"
    for tag in ("script", "img", "link", "iframe"):
        assert tag not in page.tags, tag
    assert SCRIPT in "".join(page.text)
    assert Recorder.requests == before == []


def test_pdf_fetches_only_its_fonts_and_shows_labels_as_text(hostile, server, tmp_path):
    context, _ = hostile
    result = render_pdf(context)
    allowed = {f.resolve().as_uri() for f in assets.allowed_files()}
    assert {url for url, _ in result.fetched} <= allowed
    assert all(ok for _, ok in result.fetched)
    assert Recorder.requests == []
    path = tmp_path / "hostile.pdf"
    path.write_bytes(result.data)
    text = subprocess.run(
        [tool("pdftotext"), "-raw", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", SCRIPT) in text and "url(file:///etc/passwd)" in text


def test_pdf_alone(server, tmp_path):
    context = build_context(small_metrics(), synthetic_run())
    written = write_report(context, tmp_path, formats=("pdf",))
    assert set(written) == {"pdf", "short_pdf"} and written["pdf"].read_bytes().startswith(b"%PDF-")
    assert written["short_pdf"].read_bytes().startswith(b"%PDF-")
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "short-report.html").exists()


# -- the fetcher --------------------------------------------------------------


@pytest.fixture
def fetcher():
    from audit.report.fetcher import AssetFetcher

    return AssetFetcher(assets.allowed_files())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x.css",
        "https://example.org/font.ttf",
        "ftp://example.org/x",
        "file:///etc/passwd",
        "file://remote-host/share/font.ttf",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "data:image/png;base64,iVBORw0KGgo=",  # images only when faces were asked for
        "data:font/ttf,notbase64",
        "javascript:alert(1)",
    ],
)
def test_fetcher_refuses(fetcher, url):
    from audit.report.fetcher import FetchRefused

    with pytest.raises(FetchRefused, match="refused"):
        fetcher.fetch(url)
    assert fetcher.log == [(url[:120], False)]


def test_fetcher_allows_its_fonts_and_font_data(fetcher):
    font = assets.font_faces()[0].path
    response = fetcher.fetch(font.resolve().as_uri())
    assert response.read()[:4] in (b"\x00\x01\x00\x00", b"true")
    assert fetcher.fetch("data:font/ttf;base64,AAEAAA==").read() == b"\x00\x01\x00\x00"
    other = font.with_name("cmr10.ttf")  # a font beside it, not one of the report's
    from audit.report.fetcher import FetchRefused

    with pytest.raises(FetchRefused):
        fetcher.fetch(other.resolve().as_uri())


# -- SVG ----------------------------------------------------------------------


SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">{}</svg>'


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        '<g onload="alert(1)"/>',
        '<use xlink:href="http://example.org/x.svg#a"/>',
        '<rect style="fill: url(http://example.org/p)"/>',
        '<rect fill="url(file:///etc/passwd)"/>',
        "<foreignObject><p>x</p></foreignObject>",
        '<image href="data:image/png;base64,AAAA"/>',
        '<a href="javascript:alert(1)"><text>x</text></a>',
    ],
)
def test_sanitize_refuses(body):
    with pytest.raises(UnsafeSvgError):
        sanitize(SVG.format(body))


def test_sanitize_drops_style_and_metadata():
    safe = sanitize(SVG.format("<style>@import url(http://example.org/x.css);</style><metadata>m</metadata><g/>"))
    assert "@import" not in safe.markup and "<style" not in safe.markup and "metadata" not in safe.markup


def test_sanitize_refuses_entities():
    with pytest.raises(UnsafeSvgError):
        sanitize('<!DOCTYPE svg [<!ENTITY x "y">]>' + SVG.format("<text>&x;</text>"))


def test_sanitize_keeps_text_escaped_and_prefixes_ids():
    svg = SVG.format(
        '<defs><clipPath id="c"><rect/></clipPath><path id="m" d="M0 0"/></defs>'
        '<g id="figure_1" clip-path="url(#c)"><use xlink:href="#m"/>'
        "<text>&lt;script&gt;alert(1)&lt;/script&gt;</text></g>"
    )
    safe = sanitize(svg, prefix="fig7")
    assert "<script" not in safe.markup and "&lt;script&gt;" in safe.markup
    assert 'id="fig7-c"' in safe.markup and "url(#fig7-c)" in safe.markup
    assert 'href="#fig7-m"' in safe.markup and 'id="fig7-figure_1"' in safe.markup
    inline = safe.inline("f", "Title <b>", "Desc & <i>")
    assert "<title" in inline and "Title &lt;b&gt;" in inline and "Desc &amp; &lt;i&gt;" in inline
    with pytest.raises(ValueError):
        safe.inline('x" onload="y', "t", "d")


def test_matplotlib_escapes_hostile_labels(hostile):
    context, _ = hostile
    panel = context.results.identification[0]
    svg = figures.forest(
        panel, figure_id="f", titles={"fpir": SCRIPT}, overall_label=IMG, insufficient="-", no_trials="-"
    )
    assert "<script" not in svg.markup and "<img" not in svg.markup
    texts = [el.text for el in ET.fromstring(svg.markup).iter() if el.text]
    assert SCRIPT in texts and IMG in texts


# -- face images --------------------------------------------------------------


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (4, 4), (200, 150, 120)).save(path)
    return path


def test_no_face_image_unless_asked(tmp_path):
    face = FaceImage(_png(tmp_path / "face.png"), caption=SCRIPT, alt=IMG)
    run = synthetic_run(face_images=(face,))
    html = render_html(build_context(small_metrics(), run))
    assert "<img" not in html and "data:image" not in html and "contains no face images" in html
    html = render_html(build_context(small_metrics(), run, include_faces=True))
    assert html.count("<img ") == 1 and html.count("data:image/png;base64,") == 1
    page = Elements()
    page.feed(html)
    assert page.tags.count("img") == 1 and SCRIPT in "".join(page.text)


def test_face_file_must_be_an_image(tmp_path):
    bogus = tmp_path / "face.png"
    bogus.write_text("<svg onload=alert(1)>")
    run = synthetic_run(face_images=(FaceImage(bogus),))
    with pytest.raises(ValueError, match="not a PNG or JPEG"):
        render_html(build_context(small_metrics(), run, include_faces=True))
