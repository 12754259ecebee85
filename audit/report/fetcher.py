"""The PDF renderer's URL fetcher: the report's own assets, nothing else.

WeasyPrint resolves every URL in the document (stylesheets, fonts, images,
``url()`` in CSS, SVG references) through one fetcher. :class:`AssetFetcher`
answers only:

* ``file:`` URLs of the files it was given (the report's fonts), and
* ``data:`` URLs whose media type is a font or, when the report was asked to
  show face images, a PNG/JPEG image.

Everything else (``http(s):``, ``ftp:``, other files such as
``file:///etc/passwd``, other media types) is refused with
:class:`FetchRefused`, and every request is logged in :attr:`AssetFetcher.log`
(URL truncated, allowed or not) so tests can check that nothing was fetched.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse

FONT_TYPES = frozenset({"font/ttf", "font/otf", "font/woff", "font/woff2", "application/font-sfnt"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg"})
REFUSED = "the report renderer fetches nothing but its own assets; refused {url}"


class FetchRefused(ValueError):
    """A URL outside the report's own assets was asked for."""


class AssetFetcher(URLFetcher):
    """A WeasyPrint URL fetcher limited to the given files and ``data:`` URLs."""

    def __init__(self, files: Iterable[Path], *, allow_images: bool = False) -> None:
        super().__init__(timeout=1, allowed_protocols=("file", "data"), allow_redirects=False)
        self.files = frozenset(Path(f).resolve() for f in files)
        self.media_types = FONT_TYPES | (IMAGE_TYPES if allow_images else frozenset())
        self.log: list[tuple[str, bool]] = []

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        try:
            response = self._answer(url)
        except FetchRefused:
            self.log.append((_shown(url), False))
            raise
        self.log.append((_shown(url), True))
        return response

    def _answer(self, url: str) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._data(url)
        if scheme == "file":
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise FetchRefused(REFUSED.format(url=_shown(url)))
            path = Path(url2pathname(unquote(parts.path))).resolve()
            if path in self.files:
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": "font/ttf"})
        raise FetchRefused(REFUSED.format(url=_shown(url)))

    def _data(self, url: str) -> URLFetcherResponse:
        header, sep, payload = url[len("data:") :].partition(",")
        if not sep:
            raise FetchRefused(REFUSED.format(url=_shown(url)))
        fields = header.split(";")
        media_type = fields[0].strip().lower()
        if media_type not in self.media_types or "base64" not in fields[1:]:
            raise FetchRefused(REFUSED.format(url=_shown(url)))
        try:
            body = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise FetchRefused(REFUSED.format(url=_shown(url))) from None
        return URLFetcherResponse(url, body, {"Content-Type": media_type})


def _shown(url: str) -> str:
    """The URL as logged and quoted: whole, except an inline ``data:`` URL cut at 120 characters."""
    return url[:120] if url.lower().startswith("data:") else url
