"""Rendering the report: HTML structure, PDF text and pages, Chromium.

The hand-made audit of :mod:`report_tables` (a real metrics table) is rendered
once per module (HTML about 9 s, PDF about 23 s). Tests that need poppler's
``pdftotext`` / ``pdftoppm`` or Debian's ``chromium`` skip, saying which tool
is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_tables import DEPLOYMENT, hand_made, run_info

from audit.metrics import table as columns
from audit.report import figures, formatting, threshold_figures
from audit.report.context import build_context
from audit.report.render import Figures, render_html, render_pdf, write_report

#: Section headings in the order the issue sets.
SECTIONS = (
    "1 Summary",
    "2 What this means for a deployment",
    "3 System under test",
    "4 Data",
    "5 Results",
    "5.1 Failure to acquire",
    "5.2 Watchlist search (1:N)",
    "5.3 One-to-one comparison (1:1)",
    "5.4 Capture conditions",
    "5.5 Threshold sensitivity",
    "5.6 Thresholds: where disparity appears",
    "5.7 Error trade-off (DET) curves",
    "6 Method and statistics",
    "7 Limitations",
    "8 Glossary",
    "Appendix: every comparison between groups",
    "Appendix: provenance",
)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install poppler-utils chromium)")
    return path


def chromium_dom(html_path: Path, profile: Path) -> str:
    """The DOM headless Chromium builds from a local file, serialised after load."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    result = subprocess.run(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--dump-dom", html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Outline(HTMLParser):
    """Headings, tables, figures and resource references of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[int, str]] = []
        self.tags: list[str] = []
        self.tables = 0
        self.captions = 0
        self.col_headers = 0
        self.figures = 0
        self.figcaptions = 0
        self.svgs: list[dict] = []
        self.svg_titles = 0
        self.svg_descs = 0
        self.urls: list[str] = []
        self.csp: str | None = None
        self._heading: int | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self._heading, self._text = int(tag[1]), []
        self.tables += tag == "table"
        self.captions += tag == "caption"
        self.col_headers += tag == "th" and a.get("scope") == "col"
        self.figures += tag == "figure"
        self.figcaptions += tag == "figcaption"
        if tag == "svg":
            self.svgs.append(a)
        self.svg_titles += tag == "title" and "id" in a
        self.svg_descs += tag == "desc"
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        for name in ("src", "href", "xlink:href", "action", "data"):
            if name in a:
                self.urls.append(a[name])

    def handle_endtag(self, tag):
        if self._heading is not None and tag == f"h{self._heading}":
            self.headings.append((self._heading, "".join(self._text).strip()))
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._text.append(data)


@pytest.fixture(scope="module")
def context():
    return build_context(hand_made(), run_info())


@pytest.fixture(scope="module")
def drawn() -> Figures:
    return Figures()  # figures drawn once for the HTML and the PDF


@pytest.fixture(scope="module")
def html(context, drawn) -> str:
    return render_html(context, drawn=drawn)


def small_metrics():
    """The hand-made table at the deployment threshold only, without sweeps (quick to render)."""
    frame = hand_made().to_pandas()
    point = frame["operating_point"]
    return columns.to_table(frame[point.isna() | (point == "deployment")].reset_index(drop=True))


@pytest.fixture(scope="module")
def small():
    return build_context(small_metrics(), run_info())


@pytest.fixture(scope="module")
def pdf(context, drawn, tmp_path_factory):
    result = render_pdf(context, drawn=drawn)
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(result.data)
    return path, result.fetched


@pytest.fixture(scope="module")
def pdf_text(pdf) -> str:
    """The PDF's text in content order, whitespace collapsed (table cells stay whole)."""
    out = subprocess.run(
        [tool("pdftotext"), "-raw", str(pdf[0]), "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"\s+", " ", out)


@pytest.fixture(scope="module")
def pdf_pages(pdf) -> list[str]:
    """Text of each PDF page (pdftotext separates pages with form feeds)."""
    out = subprocess.run(
        [tool("pdftotext"), "-layout", str(pdf[0]), "-"], capture_output=True, text=True, check=True
    ).stdout
    return out.split("\f")[:-1]


# -- HTML ---------------------------------------------------------------------


def test_html_is_self_contained(html):
    outline = Outline()
    outline.feed(html)
    assert "script" not in outline.tags and "link" not in outline.tags and "img" not in outline.tags
    for url in outline.urls:
        assert url.startswith("#"), url  # only in-page links: nothing to fetch
    assert outline.csp is not None and "default-src 'none'" in outline.csp and "script-src" not in outline.csp
    assert "@font-face" in html and "data:font/ttf;base64," in html
    assert "url(http" not in html and "url('http" not in html and "file://" not in html


def test_html_headings_in_order_and_sections_present(html):
    outline = Outline()
    outline.feed(html)
    levels = [level for level, _ in outline.headings]
    assert levels[0] == 1 and levels.count(1) == 1
    for previous, level in zip(levels, levels[1:]):
        assert level <= previous + 1, outline.headings  # never skip a level going down
    titles = [text for _, text in outline.headings]
    positions = [next(i for i, t in enumerate(titles) if t.startswith(s)) for s in SECTIONS]
    assert positions == sorted(positions)


def test_every_table_and_figure_is_labelled(html):
    outline = Outline()
    outline.feed(html)
    assert outline.tables > 20 and outline.captions == outline.tables
    assert outline.col_headers >= 2 * outline.tables
    assert outline.figures >= 12 and outline.figcaptions == outline.figures
    assert len(outline.svgs) == outline.figures
    for svg in outline.svgs:
        assert svg["role"] == "img" and svg["aria-labelledby"].endswith("-title")
    assert outline.svg_titles == outline.svg_descs == outline.figures
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate element ids"


def test_figure_descriptions_give_the_numbers(html, context):
    panel = next(p for p in context.results.identification
                 if p.operating_point.label == "deployment")
    a = panel.rows[0].rates[0]
    desc = re.search(rf'<desc id="{panel.id}-fig-svg-desc">(.*?)</desc>', html, re.S).group(1)
    assert f"a {formatting.percent(a.value)}" in desc and "e insufficient data" in desc
    curve = next(c for c in context.results.disparity if c.metric == "fpir")
    desc = re.search(rf'<desc id="{curve.id}-fig-svg-desc">(.*?)</desc>', html, re.S).group(1)
    first, _ = curve.shown_runs[0]
    assert f"The interval excludes 1 at thresholds {formatting.threshold(first)} to" in desc
    caption = re.search(rf'id="{curve.id}-fig">.*?<figcaption>(.*?)</figcaption>', html, re.S)
    assert "pointwise" in caption.group(1)


def plain_text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def test_summary_states_the_pair_and_the_family(html, context):
    text = plain_text(html[html.index('id="summary"') : html.index('id="deployment"')])
    c = context.summary.points[0].rates[0].findings[0].comparison
    assert (f"people with group “a” passing the camera were at least "
            f"{formatting.ratio_end(c.ratio.low)} times as likely as people with group “c”") in text
    assert f"This audit made {context.summary.n_tests} such comparisons" in text
    for sentence in re.split(r"(?<=\.) ", text):
        if re.search(r"\b(equal|same)\b", sentence) and "not" not in sentence:
            pytest.fail(f"summary claims equality: {sentence}")


def test_method_names_every_method_and_the_family(html, context):
    text = plain_text(html[html.index('id="method"') : html.index('id="limitations"')])
    for words in ("cluster-robust", "one-way clustering by subject", "dyadic clustering",
                  "Wilson interval at that size", "MOVER interval on the log scale",
                  "exact conditional binomial bound", "inverting the ratio interval", "Benjamini-Hochberg",
                  f"all {context.summary.n_tests} comparisons", "80% power",
                  "A calibrated threshold is itself an estimate",
                  "That uncertainty is included in the intervals of every rate read at a "
                  "calibrated threshold"):
        assert words in text, words
    assert "its results are not part of this report" in text  # coverage: none given yet


def test_coverage_is_quoted_only_when_given(context):
    from dataclasses import replace

    from audit.report.context import CoverageResult
    from audit.report.render import environment

    template = environment().get_template("sections/method.html.j2")
    given = replace(context, coverage=(CoverageResult("wilson-clustered", "fmr", 0.95, 0.941,
                                                      2000, "dyadic design"),))
    text = plain_text(template.render(ctx=given))
    assert "94.1%" in text and "2,000" in text and "dyadic design" in text
    assert "94.1%" not in template.render(ctx=context)


def test_deployment_page_quotes_the_projection_rows(html, context):
    text = plain_text(html[html.index('id="deployment"') : html.index('id="system"')])
    overall = context.projection.overall
    assert ("These figures hold for a watchlist of 20 people, the size audited ([watchlist] "
            "size in the audit specification), not for the deployment’s 10,000.") in text
    assert ("The rates were not measured at 10,000 people (this run has no rates measured "
            "against watchlist size), so they are applied unchanged: these figures are not a "
            "projection to the deployment’s watchlist, whose false alerts are likely more.") in text
    assert ("It assumes a crowd of 1,000 faces scanned ([projection] crowd in the audit "
            "specification)") in text
    assert f"{formatting.rounded(overall.false_alerts.value)} (" in text
    assert "1 − (1 − FPIR)" not in text and "Sensitivity" not in text


def test_figures_draw_without_warnings(context):
    import warnings

    curve = context.results.disparity[0]
    words = dict(title="t", xlabel="x", ylabel="y", mark_labels=["m"] * len(curve.marks),
                 ratio_label="r", band_label="b", shown_label="s", bound_label="l")
    det = context.results.dets[0]
    hidden = type(det)(det.id, det.family, det.grouping, det.x_metric, det.y_metric,
                       tuple(type(c)(c.group, c.x, c.y, False, c.marks) for c in det.curves))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "No artists with labels"
        svg = threshold_figures.disparity(curve, figure_id="d", **words)
        threshold_figures.det(hidden, figure_id="n", xlabel="x", ylabel="y", overall_label="o")
    assert "<svg" in svg.markup


def test_html_and_figures_deterministic(small):
    assert render_html(small) == render_html(small)  # fresh figures each time
    panel = small.results.identification[0]
    words = dict(titles={}, overall_label="all", insufficient="-", no_trials="-")
    first = figures.forest(panel, figure_id="f", **words)
    assert figures.forest(panel, figure_id="f", **words) == first


# -- PDF ----------------------------------------------------------------------


def test_pdf_sections_in_order(pdf_pages):
    body = re.sub(r"[ \t]+", " ", "\n".join(pdf_pages[1:]))  # after the contents page
    positions = []
    for heading in SECTIONS:
        match = re.search(rf"^\s*{re.escape(heading)}(:.*)?\s*$", body, re.M)
        assert match, f"heading {heading!r} not found in the PDF text"
        positions.append(match.start())
    assert positions == sorted(positions)


def test_pdf_numbers_and_reference_figures(pdf_text, context):
    text = pdf_text
    assert "were at least" in text and "times as likely as people with group" in text
    fpir = context.summary.overall[0]
    assert f"{formatting.percent(fpir.value)} (95% CI {formatting.percent(fpir.ci_low)} to" in text
    assert f"{formatting.count(fpir.n_errors)} of {formatting.count(fpir.n_trials)} searches" in text
    assert f"threshold {formatting.threshold(DEPLOYMENT)}" in text
    for reference in ("about 1 in 6,000 (watchlist of 10,000", "8 of 42 alerts verified correct (19%)",
                      "2,297 of 2,470 alerts false (93.0%; reported in the press as 92%)",
                      "Equitability Study", "National Physical Laboratory"):
        assert reference in text
    assert "come from other systems, other thresholds and other settings" in text
    assert "insufficient data" in text and "not shown to differ" in text
    assert "This report contains no face images." in text


def test_pdf_page_count_footer_and_contents(pdf_pages):
    n = len(pdf_pages)
    assert 15 <= n <= 60, n
    assert all(f"Page {i + 1} of {n}" in page for i, page in enumerate(pdf_pages))
    assert "Run hand-made-1" in pdf_pages[1]  # running header
    contents = pdf_pages[0]
    for heading in ("1 Summary", "4 Data", "6 Method and statistics", "Appendix: provenance"):
        match = re.search(rf"{re.escape(heading)}[\s.]*?(\d+)\s*$", contents, re.M)
        assert match, f"no page reference for {heading!r} in the contents"
        page = int(match.group(1))
        assert re.search(rf"^\s*{re.escape(heading)}\s*$", pdf_pages[page - 1], re.M), heading


def test_pdf_is_tagged_and_titled(pdf):
    info = subprocess.run([tool("pdfinfo"), str(pdf[0])], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Tagged:\s+yes", info, re.M)
    assert re.search(r"^Title:\s+Hand-made audit — transparency report", info, re.M)


def test_pdf_fetches_only_its_fonts(pdf):
    _, fetched = pdf
    assert fetched and all(allowed for _, allowed in fetched)
    assert all(url.startswith("file://") and url.endswith(".ttf") and "matplotlib" in url for url, _ in fetched)


def test_pdf_pages_render_to_png(pdf, tmp_path):
    from PIL import Image

    subprocess.run(
        [tool("pdftoppm"), "-r", "30", "-png", "-f", "1", "-l", "3", str(pdf[0]), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3
    for page in pages:
        image = Image.open(page).convert("L")
        width, height = image.size
        assert abs(width / height - 210 / 297) < 0.01  # A4 portrait
        inked = sum(image.histogram()[:200])
        assert inked > 0.005 * width * height  # text was drawn


# -- Chromium -----------------------------------------------------------------


def test_chromium_opens_the_report(html, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    dom = chromium_dom(path, tmp_path / "profile")
    assert "<title>Hand-made audit — transparency report</title>" in dom
    assert dom.count("<svg") >= 12 and "1 Summary" in dom and "Appendix: provenance" in dom


# -- writing ------------------------------------------------------------------


def test_write_report_html_alone(small, tmp_path):
    written = write_report(small, tmp_path / "out", formats=("html",))
    assert set(written) == {"html", "short_html"} and written["html"].name == "report.html"
    assert not (tmp_path / "out" / "report.pdf").exists()
    assert written["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    short = written["short_html"].read_text(encoding="utf-8")
    assert short.startswith("<!DOCTYPE html>") and "report.pdf" in short  # points to the full one
    # the short report beside the long one, no temporary left
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "short-report.html"]


@pytest.mark.parametrize("formats", [(), ("docx",)])
def test_write_report_rejects_bad_formats(small, tmp_path, formats):
    with pytest.raises(ValueError, match="format"):
        write_report(small, tmp_path, formats=formats)


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(lambda f: ~f["metric"].isin(["fpir", "fnir"]), id="verification-only"),
        pytest.param(lambda f: f["metric"].isin(["fpir", "fnir"]), id="identification-only"),
        pytest.param(lambda f: f["statistic"] == "rate", id="rates-only"),
        pytest.param(lambda f: f["point_kind"] != "sweep", id="no-sweep"),
        pytest.param(lambda f: f["grouping"] == "overall", id="overall-only"),
    ],
)
def test_partial_tables_render(keep):
    """A metrics table missing whole kinds of rows still gives a complete report."""
    from audit.report.inputs import RunInfo

    frame = hand_made().to_pandas()
    context = build_context(columns.to_table(frame[keep(frame)].reset_index(drop=True)),
                            RunInfo(run_id="partial"))
    html = render_html(context)
    outline = Outline()
    outline.feed(html)
    titles = [text for _, text in outline.headings]
    assert all(any(t.startswith(s) for t in titles) for s in SECTIONS)
    assert "not recorded" in html


# -- page flow ----------------------------------------------------------------

#: Headings of the sections that start a major part (report.css: ``section.part``).
PART_STARTS = ("1 Summary", "3 System under test", "5 Results", "6 Method and statistics",
               "Appendix: every comparison between groups", "Appendix: provenance")


def _headings(html: str) -> list[str]:
    found = re.findall(r"<h([2-5])[^>]*>(.*?)</h\1>", html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip() for _, text in found]


def test_pages_flow_parts_start_pages_and_no_page_is_nearly_empty(pdf):
    from pdf_layout import pages

    laid = pages(pdf[0], tool("pdftotext"))
    starts = [p.number for p in laid if p.lines and p.lines[0].text in PART_STARTS]
    assert [laid[n - 1].lines[0].text for n in starts] == list(PART_STARTS)  # each on a new page
    for page, following in zip(laid, laid[1:]):
        if following.number not in starts:  # a part's last page may be short
            assert page.fill >= 0.25, (page.number, page.fill)


def test_no_page_ends_with_a_heading(pdf, html):
    from pdf_layout import pages

    headings = [h for h in _headings(html) if len(h) > 3]
    for page in pages(pdf[0], tool("pdftotext"))[1:-1]:  # after the contents page
        last = page.lines[-1].text
        stranded = [h for h in headings if h == last or (len(last) > 8 and h.endswith(last))]
        assert stranded == [], (page.number, last)


def _captions(html: str, tag: str) -> list[str]:
    from html import unescape

    found = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
    return [unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()) for text in found]


def test_no_caption_is_stranded_from_its_table_or_figure(pdf, html):
    """A table caption never ends a page (its table on the next), and a figure caption
    never starts one (its figure on the page before)."""
    from pdf_layout import pages

    tables, figures_ = _captions(html, "caption"), _captions(html, "figcaption")
    laid = pages(pdf[0], tool("pdftotext"))
    for page in laid[:-1]:
        last = page.lines[-1].text
        assert not [c for c in tables if len(last) > 12 and c.endswith(last)], \
            (page.number, last)
    for page in laid[1:]:
        first = page.lines[0].text
        assert not [c for c in figures_ if len(first) > 12 and c.startswith(first)], (page.number, first)


def test_no_local_path_or_user_name_in_a_report(small):
    from dataclasses import replace

    private = {"dataset": {"root": "/home/alice/data/lfw", "name": "lfw"},
               "manifest": "C:/Users/alice/manifest.csv", "seed": 1}
    run = replace(run_info(), provenance=private,
                  spec={"data_dir": "/home/alice/data", "dataset": {"name": "/home/alice/m.csv"}})
    html = render_html(build_context(small_metrics(), run))
    assert "alice" not in html and "/home" not in html
    assert "manifest.csv" in html and "m.csv" in html  # the file names stay


def test_det_with_no_point_where_both_rates_are_above_zero_is_not_drawn():
    """A small audit: every threshold has FPIR 0 or FNIR 0, so no point of the curve
    has a place on log axes; the figure gives way to a sentence (None), not a crash."""
    from audit.report.curves import Det, DetCurve

    curve = DetCurve("all", x=(1.0, 0.5, 0.0, 0.0), y=(0.0, 0.0, 0.25, 1.0), sufficient=True,
                     marks=((0.5, 0.0, "op"),))
    data = Det("det-x", "identification", "gender", "fpir", "fnir", (curve,))
    svg = threshold_figures.det(data, figure_id="det-x-plot", xlabel="FPIR", ylabel="FNIR",
                                overall_label="all")
    assert svg is None


def test_calibrated_thresholds_are_given_in_full_to_deploy(html, context):
    """The table of thresholds shows two decimals, then every digit of a calibrated one:
    rounded, a threshold calibrated to a target can give more errors than the target."""
    calibrated = [p for p in context.operating_points if p.calibrated]
    section = plain_text(html[html.index('id="system-thresholds"'):
                              html.index('id="system-watchlist"')])
    assert calibrated
    for point in calibrated:
        assert f"To deploy it, use exactly {float(point.threshold)!r}" in section
