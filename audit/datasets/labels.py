"""Label values of an evaluator's manifest, folded into groups on purpose and on the record.

Hand-typed labels spell one group several ways: ``Female``, ``female`` and
``female `` would be three groups, each with a third of the people, and
``Unknown``, ``UNKNOWN`` and ``n/a`` three groups that are really "not
known". :func:`normalise_labels` folds case and runs of white space (when
asked, the default) and unifies the spellings of unknown (always), and
returns a record of every change, counted per column, for the run's notes:
an audit says what it did to the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from audit.schema import UNKNOWN

#: Spellings read as "not known" (compared after folding case and white space).
UNKNOWN_SPELLINGS = frozenset({UNKNOWN, "unk", "n/a", "not known", "?", "null", "nan"})


@dataclass(frozen=True)
class LabelChange:
    """How many values of one column one rule changed, with an example."""

    column: str
    rule: str  # "folded" (case / white space) or "unknown" (a spelling of unknown)
    n_values: int
    example: tuple[str, str]  # (as written, as used)

    def note(self) -> str:
        before, after = self.example
        what = ("spelt unknown another way, now unknown" if self.rule == "unknown"
                else "lower-cased or with spaces trimmed")
        return (f"{self.column}: {self.n_values} value(s) {what} "
                f"(e.g. {before[:40]!r} -> {after[:40]!r})")


def _folded(values: pd.Series) -> pd.Series:
    return values.str.replace(r"\s+", " ", regex=True).str.strip().str.casefold()


def normalise_labels(frame: pd.DataFrame, columns: list[str], *,
                     fold: bool = True) -> tuple[pd.DataFrame, list[LabelChange]]:
    """``frame`` with its label ``columns`` normalised, and the changes made.

    Empty values must already be :data:`~audit.schema.UNKNOWN`. With ``fold``,
    values are lower-cased (Unicode case folding) and runs of white space
    become one space; in any case, the spellings in :data:`UNKNOWN_SPELLINGS`
    become ``unknown``.

    >>> frame = pd.DataFrame({"gender": ["Female", "female ", "N/A", "male"]})
    >>> out, changes = normalise_labels(frame, ["gender"])
    >>> out.gender.tolist(), [(c.rule, c.n_values) for c in changes]
    (['female', 'female', 'unknown', 'male'], [('folded', 2), ('unknown', 1)])
    """
    frame = frame.copy()
    changes = []
    for column in columns:
        written = frame[column]
        folded = _folded(written)
        unknown = folded.isin(UNKNOWN_SPELLINGS)
        used = (folded if fold else written).where(~unknown, UNKNOWN)
        changed = used != written
        for rule, mask in (("folded", changed & ~unknown), ("unknown", changed & unknown)):
            if mask.any():
                row = mask.idxmax()
                changes.append(LabelChange(column, rule, int(mask.sum()),
                                           (written[row], used[row])))
        frame[column] = used
    return frame, changes
