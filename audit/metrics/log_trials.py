"""The checked trials files of a score log together: images, subjects and the SCORES table.

:mod:`.score_logs` reads and checks each trials file into a :class:`Trials`
(ids and subjects as codes); :class:`Combined` joins the files on shared
codes (one file's arrays as they are), finds the images the trials mention
with their subject (an image with two is reported, by both rows), and
builds the SCORES table with text as dictionary codes, no string per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from audit.metrics import log_reading
from audit.metrics.log_attributes import Mentioned
from audit.metrics.log_problems import Problems
from audit.metrics.log_reading import Codes
from audit.metrics.trials import IDENTIFICATION, VERIFICATION
from audit.schema import SCORES

CONFLICT = ("trials: image {image!r} belongs to subject {a!r} ({where_a}) and to "
            "{b!r} ({where_b})")
#: :data:`audit.schema.SCORES` with every text column dictionary-encoded (``cast(SCORES)`` decodes);
#: ``trial_kind``'s two words take one byte a row.
SCHEMA = pa.schema([f.with_type(pa.dictionary(
    pa.int8() if f.name == "trial_kind" else pa.int32(), f.type)) if f.type == pa.string()
    else f for f in SCORES])


@dataclass(frozen=True)
class Trials:
    """One trials file, checked, its ids and subjects as codes."""

    name: str
    kind: np.ndarray  # bool: verification (else identification)
    probe_subject: Codes
    reference_subject: Codes
    probe_id: Codes | None
    reference_id: Codes | None
    score: np.ndarray
    mated: np.ndarray
    best: np.ndarray  # int8: 1 true, 0 false, -1 empty
    rank: np.ndarray | None  # float, NaN when empty; None: no such column
    fold: np.ndarray | None
    image_subject: np.ndarray | None = None  # subject code of each id code, when read so


class Combined:
    """Every trials file together, ids and subjects on shared codes.

    One file's arrays are taken as they are (no copy of 10 million rows);
    several files' are concatenated.
    """

    def __init__(self, parts: list[Trials]) -> None:
        self.names = [p.name for p in parts]
        self.sizes = [len(p.score) for p in parts]
        self.kind = _joined([p.kind for p in parts])
        self.probe_subject, self.reference_subject = _joined_codes(
            [p.probe_subject for p in parts], [p.reference_subject for p in parts])
        self.by_image = parts[0].probe_id is not None
        if self.by_image:
            self.probe_id, self.reference_id = _joined_codes(
                [p.probe_id for p in parts], [p.reference_id for p in parts])
        else:  # a subject stands for its images
            self.probe_id, self.reference_id = self.probe_subject, self.reference_subject
        self.image_subject = parts[0].image_subject if len(parts) == 1 else None
        for name in ("score", "mated", "best"):
            setattr(self, name, _joined([getattr(p, name) for p in parts]))
        for name in ("rank", "fold"):  # None when no file has the column
            given = [getattr(p, name) for p in parts]
            setattr(self, name, None if all(g is None for g in given) else _joined(
                [np.full(len(p.score), np.nan) if g is None else g
                 for p, g in zip(parts, given, strict=True)]))

    def where(self, row: int) -> tuple[str, int]:
        """File name and 1-based row of a combined row."""
        part = int(np.searchsorted(np.cumsum(self.sizes), row, side="right"))
        return self.names[part], row - sum(self.sizes[:part]) + 1

    def mentioned(self, problems: Problems, limit: int) -> Mentioned:
        """Distinct images with their subject; an image with two subjects is a problem."""
        subject_of = self._subject_of(problems, limit)
        used = np.flatnonzero(subject_of >= 0)
        position = np.full(len(subject_of), -1, dtype=np.int32)
        position[used] = np.arange(used.size, dtype=np.int32)
        return Mentioned(
            ids=self.probe_id.values.take(pa.array(used)),
            subjects=self.probe_subject.values.take(pa.array(subject_of[used])),
            position=position, probe=self.probe_id.codes, reference=self.reference_id.codes,
            verification=self.kind, by_image=self.by_image)

    def _subject_of(self, problems: Problems, limit: int) -> np.ndarray:
        """The subject code of each image code (-1: an image no trial counts)."""
        if self.image_subject is not None:  # read through the images: one subject each
            if self.kind.all():  # every image of the table is a probe or a reference
                return self.image_subject
            used = np.zeros(len(self.image_subject), dtype=bool)
            used[self.probe_id.codes] = True
            used[self._references(self.reference_id.codes)] = True
            return np.where(used, self.image_subject, -1)
        sides = [(self.probe_id.codes, self.probe_subject.codes),
                 (self._references(self.reference_id.codes),
                  self._references(self.reference_subject.codes))]
        subject_of = np.full(len(self.probe_id.values), -1, dtype=np.int64)
        for images, subjects in sides:
            subject_of[images] = subjects
        conflict = np.unique(np.concatenate([images[subject_of[images] != subjects]
                                             for images, subjects in sides]))
        if conflict.size:
            self._conflicts(conflict[:limit], problems)
            problems.unlisted += max(conflict.size - limit, 0)
        return subject_of

    def _references(self, codes: np.ndarray) -> np.ndarray:
        """The reference side of the verification rows (all rows, uncopied, when all are)."""
        return codes if self.kind.all() else codes[self.kind]

    def _conflicts(self, conflict: np.ndarray, problems: Problems) -> None:
        """Name the first two rows, with their subjects, of each image seen with two."""
        images = np.concatenate([self.probe_id.codes, self.reference_id.codes[self.kind]])
        subjects = np.concatenate([self.probe_subject.codes,
                                   self.reference_subject.codes[self.kind]])
        rows = np.concatenate([np.arange(len(self.kind)), np.flatnonzero(self.kind)])
        for image in conflict:
            seen = np.flatnonzero(images == image)
            seen = seen[np.argsort(rows[seen], kind="stable")]
            other = seen[subjects[seen] != subjects[seen[0]]][0]
            problems.append(CONFLICT.format(
                image=self.probe_id.values[int(image)].as_py(),
                a=self.probe_subject.values[int(subjects[seen[0]])].as_py(),
                where_a="{} row {}".format(*self.where(rows[seen[0]])),
                b=self.probe_subject.values[int(subjects[other])].as_py(),
                where_b="{} row {}".format(*self.where(rows[other]))))

    def table(self) -> pa.Table:
        """The SCORES table, its text columns dictionary-encoded: the codes, no string per row."""
        identification = ~self.kind
        columns = {
            "trial_kind": _dictionary(identification.astype(np.int8),
                                      pa.array([VERIFICATION, IDENTIFICATION])),
            "probe_id": _dictionary(self.probe_id.codes, self.probe_id.values),
            "reference_id": _dictionary(self.reference_id.codes, self.reference_id.values,
                                        ~self.reference_id.equal("")),
            "probe_subject": _dictionary(self.probe_subject.codes, self.probe_subject.values),
            "reference_subject": _dictionary(self.reference_subject.codes,
                                             self.reference_subject.values, self.kind),
            "score": pa.array(self.score, mask=np.isnan(self.score)),
            "mated": pa.array(self.mated),
            "fold": _integers(self.fold, len(self.kind)),
            "rank": _integers(self.rank, len(self.kind)),
            "best_is_true_entry": pa.array(self.best == 1, mask=~identification | (self.best < 0)),
        }
        return pa.table(columns, schema=SCHEMA)


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _joined_codes(probe: list[Codes], reference: list[Codes]) -> tuple[Codes, Codes]:
    """Probe and reference sides of every file on one value table."""
    if len(probe) == 1:  # one file: read on one table already
        return probe[0], reference[0]
    coded = log_reading.on_one_table(probe + reference)
    values = coded[0].values
    return (Codes(np.concatenate([c.codes for c in coded[:len(probe)]]), values),
            Codes(np.concatenate([c.codes for c in coded[len(probe):]]), values))


def _dictionary(codes: np.ndarray, values: pa.Array, keep: np.ndarray | None = None
                ) -> pa.DictionaryArray:
    """Text as codes into ``values``, null where ``keep`` is False."""
    indices = pa.array(codes, mask=None if keep is None else ~keep)
    return pa.DictionaryArray.from_arrays(indices, values)


def _integers(values: np.ndarray | None, size: int) -> pa.Array:
    if values is None or np.isnan(values).all():
        return _nulls(size)
    missing = np.isnan(values)
    return pa.array(np.where(missing, 0, values).astype(np.int32), mask=missing)


def _nulls(size: int) -> pa.Array:
    """An all-null int32 column (an absent ``rank`` or ``fold``) on numpy zeros, which the system
    maps lazily: unlike ``pa.nulls``, no 4 bytes a row written and kept (80 MB at 10M rows)."""
    zeros = [np.zeros(-(-size // 8), dtype=np.uint8), np.zeros(size, dtype=np.int32)]
    return pa.Array.from_buffers(pa.int32(), size, [pa.py_buffer(z) for z in zeros],
                                 null_count=size)
