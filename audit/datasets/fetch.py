"""Download LFW and its gender labels, verified, into the local layout ``lfw.py`` reads.

Downloads happen only when asked (never at import or while loading), over
https, into a temporary file beside the target that is renamed into place only
after its digests match the published ones: an interrupted or tampered
download never sits at the final path. The archive is checked member by member
before extraction, so a crafted tarball cannot write outside the destination.

Where no SHA-256 is published for a file (the LFW image archive: the LFW site
gives only an MD5), :func:`fetch_lfw` refuses unless ``allow_unverified=True``;
even then the MD5 the site publishes is checked. Checksums and their sources
are listed in ``datasets/lfw.md``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from audit.datasets.errors import DatasetError, FetchError
from audit.datasets.lfw import FEMALE_FILE, IMAGES_DIR, MALE_FILE, PAIRS_FILE
from audit.datasets.paths import resolve_inside
from audit.tables import atomic_path

#: Seconds to wait for a connection or for the next block of data.
TIMEOUT = 10.0
CHUNK = 1 << 20
ALLOWED_SCHEMES = ("https", "file")  # file:// serves a local mirror (and tests)

UNREACHABLE = (
    "could not download {name} from {urls} ({reason}); without network access, "
    "place a local copy (layout in datasets/lfw.md) and point --data-dir or LFR_AUDIT_DATA at it"
)
UNVERIFIED = (
    "{name} has no published SHA-256 ({note}); rerun with --allow-unverified "
    "to accept it, or place a local copy you have checked yourself"
)
MISMATCH = (
    "{name} downloaded from {url} has {algorithm} {got}, expected {expected}; "
    "the file was discarded: retry later, or report it if it persists"
)
LOCAL_MISMATCH = (
    "{path} exists but its {algorithm} is {got}, expected {expected}; "
    "move it aside or delete it, then fetch again"
)
INSECURE_URL = "refusing to download {url}: only https (or file://) sources are used"
UNSAFE_MEMBER = (
    "archive {archive} holds {member!r} ({kind}), which could write outside {dest}; "
    "the archive is not the official one: delete it and fetch again"
)
UNEXPECTED_ARCHIVE = "archive {archive} lacks the top folder {folder!r}; it is not {name}"


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where to put it, where from, and how to verify it.

    ``urls`` are tried in order; only an unreachable source moves on to the
    next one (a source serving the wrong bytes stops the fetch). ``sha256`` is
    None when no trustworthy value is known; ``md5`` is the digest a publisher
    gives when it gives no SHA-256, checked whenever present.
    """

    name: str  # path relative to the destination folder
    urls: tuple[str, ...]
    sha256: str | None
    md5: str | None = None
    note: str = ""  # where the digests come from


LFW_ARCHIVE = RemoteFile(
    name="lfw-deepfunneled.tgz",
    urls=("https://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz",),
    sha256=None,
    md5="68331da3eb755a505a502b5aacb3c201",
    note="the LFW site publishes only an MD5, which is checked in any case",
)
LFW_PAIRS = RemoteFile(
    name=PAIRS_FILE,
    urls=(
        "https://vis-www.cs.umass.edu/lfw/pairs.txt",
        "https://ndownloader.figshare.com/files/5976006",  # scikit-learn's mirror
    ),
    sha256="ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592",
    md5="9f1ba174e4e1c508ff7cdf10ac338a7d",
    note="SHA-256 from scikit-learn's sklearn/datasets/_lfw.py; MD5 from torchvision's LFW",
)
# The authors share the AFIF4 labels through a short link to a cloud folder
# (http://bit.ly/lfw-gender), which serves no stable per-file URL; the files are
# taken from a public Git copy pinned to one commit, and accepted only if they
# match the SHA-256 of two independent copies that agree byte for byte.
_AFIF4_MIRROR = (
    "https://raw.githubusercontent.com/keyork/cpd-2020-summer/"
    "a9664cd61f616e65b1fae5c027c23097c598ef93/label/"
)
LFW_MALE = RemoteFile(
    name=MALE_FILE,
    urls=(_AFIF4_MIRROR + "male_names.txt",),
    sha256="2abf7a487ff94869a125cb03c71431139fb64f5aac5cb33f061bb95516f92db3",
    note="not published by the authors; two independent copies agree (datasets/lfw.md)",
)
LFW_FEMALE = RemoteFile(
    name=FEMALE_FILE,
    urls=(_AFIF4_MIRROR + "female_names.txt",),
    sha256="4e70a3d901e2ebe6a93b2e706376020c4d50e4ea972868061fd79fd1076b0465",
    note="not published by the authors; two independent copies agree (datasets/lfw.md)",
)
LFW_FILES = (LFW_PAIRS, LFW_MALE, LFW_FEMALE, LFW_ARCHIVE)
#: Top folder inside lfw-deepfunneled.tgz; it becomes ``images/``.
ARCHIVE_FOLDER = "lfw-deepfunneled"


def fetch_lfw(
    dest: str | Path, *, allow_unverified: bool = False, timeout: float = TIMEOUT
) -> dict[str, str]:
    """Download LFW (deep-funneled), View 2 pairs and AFIF4 gender labels into ``dest``.

    Leaves ``dest`` in the layout :func:`audit.datasets.lfw.load_lfw` reads and
    returns the SHA-256 of each file fetched or found (for provenance; the
    archive's is that of the ``.tgz``, deleted once extracted). Files already
    in place and verified are kept; ``images/`` already present skips the
    archive. Every file's policy is checked before the first byte is fetched.
    """
    dest = Path(dest)
    pending = [f for f in LFW_FILES if f is not LFW_ARCHIVE or not (dest / IMAGES_DIR).is_dir()]
    for remote in pending:
        _check_policy(remote, allow_unverified)
    digests = {}
    for remote in pending:
        digests[remote.name] = download(
            remote, dest, allow_unverified=allow_unverified, timeout=timeout
        )
    if LFW_ARCHIVE in pending:
        archive = dest / LFW_ARCHIVE.name
        extract_tgz(archive, dest, folder=ARCHIVE_FOLDER, rename_to=IMAGES_DIR)
        archive.unlink()
    return digests


def download(
    remote: RemoteFile,
    dest: str | Path,
    *,
    allow_unverified: bool = False,
    timeout: float = TIMEOUT,
) -> str:
    """Fetch ``remote`` into ``dest/remote.name`` atomically; return its SHA-256.

    A file already there is verified instead of fetched again (and never
    overwritten when it differs). A file without a known ``sha256`` is refused
    unless ``allow_unverified``; its ``md5``, if any, is checked either way.
    """
    _check_policy(remote, allow_unverified)
    target = resolve_inside(dest, remote.name)
    if target.exists():
        return _verify_local(remote, target)
    for url in remote.urls:
        if urlsplit(url).scheme not in ALLOWED_SCHEMES:
            raise FetchError(INSECURE_URL.format(url=url))
    target.parent.mkdir(parents=True, exist_ok=True)
    reasons = []
    for url in remote.urls:
        try:
            with atomic_path(target) as partial:  # renamed into place only once verified
                with open(partial, "xb") as out:
                    digests = _copy(url, out, timeout)
                problem = _mismatch(remote, digests)
                if problem:
                    algorithm, got, expected = problem
                    raise FetchError(MISMATCH.format(name=remote.name, url=url,
                                                     algorithm=algorithm, got=got,
                                                     expected=expected))
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets
            reasons.append(_reason(error))
            continue
        return digests["sha256"]
    raise FetchError(
        UNREACHABLE.format(name=remote.name, urls=", ".join(remote.urls), reason="; ".join(reasons))
    )


def extract_tgz(archive: str | Path, dest: str | Path, *, folder: str, rename_to: str) -> Path:
    """Extract ``folder`` from a gzipped tarball and rename it ``dest/rename_to``.

    Every member must be a plain file or folder whose path stays inside the
    extraction folder; links, devices, absolute and ``..`` paths are refused
    before anything is written. Extraction goes to a temporary folder in
    ``dest`` and is renamed into place only when complete. (tarfile's "data"
    filter is also applied, as a second line of defence.)
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            _check_members(archive, dest, staging, members)
            tar.extractall(staging, members=members, filter="data")
        extracted = staging / folder
        if not extracted.is_dir():
            raise FetchError(
                UNEXPECTED_ARCHIVE.format(archive=archive, folder=folder, name=archive.name)
            )
        final = resolve_inside(dest, rename_to)
        os.replace(extracted, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_members(
    archive: Path, dest: Path, staging: Path, members: Iterable[tarfile.TarInfo]
) -> None:
    for member in members:
        if not (member.isfile() or member.isdir()):
            kind = "a link" if member.issym() or member.islnk() else "a special file"
            raise FetchError(
                UNSAFE_MEMBER.format(archive=archive, member=member.name, kind=kind, dest=dest)
            )
        try:
            resolve_inside(staging, member.name)
        except DatasetError:
            raise FetchError(
                UNSAFE_MEMBER.format(
                    archive=archive, member=member.name, kind="an unsafe path", dest=dest
                )
            ) from None


def _check_policy(remote: RemoteFile, allow_unverified: bool) -> None:
    if remote.sha256 is None and not allow_unverified:
        raise FetchError(UNVERIFIED.format(name=remote.name, note=remote.note))


def _open(url: str, timeout: float) -> BinaryIO:
    """Open ``url``; ``timeout`` bounds the connection and each read (not DNS lookups)."""
    return urllib.request.urlopen(url, timeout=timeout)


def _copy(url: str, out: BinaryIO, timeout: float) -> dict[str, str]:
    """Stream ``url`` into ``out``, returning its SHA-256 and MD5 hex digests."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with _open(url, timeout) as response:
        while block := response.read(CHUNK):
            out.write(block)
            sha256.update(block)
            md5.update(block)
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def _mismatch(remote: RemoteFile, digests: dict[str, str]) -> tuple[str, str, str] | None:
    for algorithm in ("sha256", "md5"):
        expected = getattr(remote, algorithm)
        if expected is not None and digests[algorithm] != expected:
            return algorithm.upper().replace("SHA", "SHA-"), digests[algorithm], expected
    return None


def _verify_local(remote: RemoteFile, path: Path) -> str:
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        handle.seek(0)
        md5 = hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
    problem = _mismatch(remote, {"sha256": sha256, "md5": md5})
    if problem:
        algorithm, got, expected = problem
        raise FetchError(
            LOCAL_MISMATCH.format(path=path, algorithm=algorithm, got=got, expected=expected)
        )
    return sha256


def _reason(error: Exception) -> str:
    """The short cause of a failed download, e.g. 'Name or service not known'."""
    reason = getattr(error, "reason", None) or error
    return str(getattr(reason, "strerror", None) or reason)
