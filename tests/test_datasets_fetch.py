"""Downloads: fail fast offline, verify digests, write atomically, extract safely.

No test touches the network: sources are file:// URLs, a local socket that
never answers, or a patched opener.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import time

import pytest

from audit.datasets import fetch
from audit.datasets.errors import FetchError
from audit.datasets.fetch import RemoteFile, download, extract_tgz, fetch_lfw
from audit.datasets.lfw import load_lfw

CONTENT = b"10\t300\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src" / "pairs.txt"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections but never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"https://127.0.0.1:{server.getsockname()[1]}"


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_unreachable_source_fails_fast_with_url_and_fix(tmp_path, silent_server):
    url = f"{silent_server}/lfw/pairs.txt"
    remote = RemoteFile("pairs.txt", (url,), sha256=sha256(CONTENT))
    start = time.monotonic()
    with pytest.raises(
        FetchError, match=re.escape(f"could not download pairs.txt from {url}")
    ) as caught:
        download(remote, tmp_path / "dest", timeout=0.3)
    assert time.monotonic() - start < 3
    message = str(caught.value)
    assert "\n" not in message
    assert "--data-dir" in message and "LFR_AUDIT_DATA" in message
    assert leftovers(tmp_path / "dest") == []


def test_fetch_lfw_offline_names_the_url(tmp_path, silent_server, monkeypatch):
    url = f"{silent_server}/pairs.txt"
    offline = RemoteFile("pairs.txt", (url,), sha256=sha256(CONTENT))
    monkeypatch.setattr(fetch, "LFW_FILES", (offline,))
    with pytest.raises(FetchError, match=re.escape(url)):
        fetch_lfw(tmp_path, timeout=0.3)


def test_verified_download_lands_in_place(tmp_path, source):
    remote = RemoteFile("sub/pairs.txt", (source.as_uri(),), sha256=sha256(CONTENT))
    digest = download(remote, tmp_path / "dest")
    assert digest == sha256(CONTENT)
    assert (tmp_path / "dest" / "sub" / "pairs.txt").read_bytes() == CONTENT
    assert leftovers(tmp_path / "dest" / "sub") == ["pairs.txt"]
    assert download(remote, tmp_path / "dest") == digest  # second call verifies, no fetch


def test_checksum_mismatch_leaves_nothing(tmp_path, source):
    remote = RemoteFile("pairs.txt", (source.as_uri(),), sha256="0" * 64)
    with pytest.raises(
        FetchError, match=r"has SHA-256 [0-9a-f]{64}, expected 0{64}; the file was discarded"
    ):
        download(remote, tmp_path / "dest")
    assert leftovers(tmp_path / "dest") == []


def test_existing_file_that_differs_is_never_overwritten(tmp_path, source):
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "pairs.txt").write_bytes(b"edited")
    remote = RemoteFile("pairs.txt", (source.as_uri(),), sha256=sha256(CONTENT))
    with pytest.raises(FetchError, match="exists but its SHA-256 is"):
        download(remote, tmp_path / "dest")
    assert (tmp_path / "dest" / "pairs.txt").read_bytes() == b"edited"


def test_unverified_file_needs_explicit_consent_and_md5_still_counts(tmp_path, source):
    md5 = hashlib.md5(CONTENT).hexdigest()
    remote = RemoteFile("pairs.txt", (source.as_uri(),), sha256=None, md5=md5, note="only an MD5")
    with pytest.raises(
        FetchError, match=re.escape(fetch.UNVERIFIED.format(name="pairs.txt", note="only an MD5"))
    ):
        download(remote, tmp_path / "dest")
    assert download(remote, tmp_path / "dest", allow_unverified=True) == sha256(CONTENT)
    wrong = RemoteFile("other.txt", (source.as_uri(),), sha256=None, md5="0" * 32)
    with pytest.raises(FetchError, match="has MD5"):
        download(wrong, tmp_path / "dest", allow_unverified=True)


def test_plain_http_is_refused(tmp_path):
    remote = RemoteFile("x", ("http://example.org/x",), sha256="0" * 64)
    with pytest.raises(FetchError, match="only https"):
        download(remote, tmp_path)


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell():
                raise ConnectionResetError("connection reset by peer")
            return super().read(4)

    monkeypatch.setattr(fetch, "_open", lambda url, timeout: Broken(CONTENT))
    remote = RemoteFile("pairs.txt", ("https://example.org/pairs.txt",), sha256=sha256(CONTENT))
    with pytest.raises(FetchError, match="connection reset by peer"):
        download(remote, tmp_path / "dest")
    assert leftovers(tmp_path / "dest") == []


def test_second_source_is_tried_when_first_is_unreachable(tmp_path, source, silent_server):
    remote = RemoteFile(
        "p.txt", (f"{silent_server}/p.txt", source.as_uri()), sha256=sha256(CONTENT)
    )
    assert download(remote, tmp_path, timeout=0.3) == sha256(CONTENT)


def make_tgz(path, members):
    """Write a .tgz whose members are (TarInfo, bytes or None) pairs."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name, data=b"jpeg"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.parametrize(
    "member",
    [
        file_member("../evil.jpg"),
        file_member("/tmp/evil.jpg"),
        file_member("lfw-deepfunneled/../../evil.jpg"),
    ],
)
def test_archive_paths_escaping_are_refused(tmp_path, member):
    archive = make_tgz(tmp_path / "a.tgz", [file_member("lfw-deepfunneled/A/A_0001.jpg"), member])
    (tmp_path / "dest").mkdir()
    with pytest.raises(FetchError, match=re.escape(f"holds {member[0].name!r} (an unsafe path)")):
        extract_tgz(archive, tmp_path / "dest", folder="lfw-deepfunneled", rename_to="images")
    assert leftovers(tmp_path / "dest") == []
    assert not (tmp_path / "evil.jpg").exists()


def test_archive_links_are_refused(tmp_path):
    link = tarfile.TarInfo("lfw-deepfunneled/A/link.jpg")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = make_tgz(tmp_path / "a.tgz", [(link, None)])
    (tmp_path / "dest").mkdir()
    with pytest.raises(FetchError, match=re.escape("(a link)")):
        extract_tgz(archive, tmp_path / "dest", folder="lfw-deepfunneled", rename_to="images")


def test_fetch_lfw_builds_the_layout_load_lfw_reads(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    archive = make_tgz(
        src / "lfw-deepfunneled.tgz",
        [
            file_member("lfw-deepfunneled/A_One/A_One_0001.jpg"),
            file_member("lfw-deepfunneled/B_Two/B_Two_0001.jpg"),
        ],
    )
    texts = {
        "pairs.txt": b"1\t0\n",
        "male.txt": b"A_One_0001.jpg\r\n",
        "female.txt": b"B_Two_0001\r\n",
    }
    for name, data in texts.items():
        (src / name).write_bytes(data)

    def remote(dest_name, src_name, verified=True):
        data = (src / src_name).read_bytes()
        return RemoteFile(
            dest_name,
            ((src / src_name).as_uri(),),
            sha256=sha256(data) if verified else None,
            md5=hashlib.md5(data).hexdigest(),
        )

    tgz = remote("lfw-deepfunneled.tgz", "lfw-deepfunneled.tgz", verified=False)
    files = (
        remote("pairs.txt", "pairs.txt"),
        remote("gender/male_names.txt", "male.txt"),
        remote("gender/female_names.txt", "female.txt"),
        tgz,
    )
    monkeypatch.setattr(fetch, "LFW_FILES", files)
    monkeypatch.setattr(fetch, "LFW_ARCHIVE", tgz)
    dest = tmp_path / "lfw"
    dest.mkdir()
    with pytest.raises(FetchError, match="no published SHA-256"):
        fetch_lfw(dest)
    assert leftovers(dest) == []  # refused before fetching anything

    digests = fetch_lfw(dest, allow_unverified=True)
    assert digests["lfw-deepfunneled.tgz"] == sha256(archive.read_bytes())
    assert leftovers(dest) == ["gender", "images", "pairs.txt"]
    table, _ = load_lfw(dest)
    assert table["gender"].to_pylist() == ["male", "female"]
    assert fetch_lfw(dest) == {k: v for k, v in digests.items() if k != "lfw-deepfunneled.tgz"}


def test_published_checksums_are_well_formed():
    for remote in fetch.LFW_FILES:
        assert remote.urls and all(u.startswith("https://") for u in remote.urls)
        assert remote.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", remote.sha256)
        assert remote.md5 is None or re.fullmatch(r"[0-9a-f]{32}", remote.md5)
        assert remote.sha256 or remote.md5, remote.name


def test_local_reference_copy_matches_the_recorded_checksums(lfw_root):
    for remote in (fetch.LFW_PAIRS, fetch.LFW_MALE, fetch.LFW_FEMALE):
        assert hashlib.sha256((lfw_root / remote.name).read_bytes()).hexdigest() == remote.sha256
