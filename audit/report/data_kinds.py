"""What kinds of trial the audited data holds, and why a miss rate is missing.

A report's sentences depend on the data behind them: a verification-only
score log has no watchlist, so "false alerts" and "a watchlist entry" would
describe searches that never happened; a log of passers-by only has people
with several images but no search of anyone on the watchlist, so "no person
has a second image" would be a false reason for the missing miss rate.
:func:`data_kinds` reads which kinds the metrics table holds trials of, and
codes the reason each missing miss rate is missing; the templates word the
codes (``miss_gap_words`` in ``macros/words.html.j2``).

A live deployment's export searches the same person many times (a camera sees
a passer-by on every pass), and its 1:N rates count searches, not people:
"the share of passers-by who trigger an alert" would then understate how many
people were ever wrongly flagged. :attr:`DataKinds.repeated` holds the searches
and the people behind each 1:N rate searched more than once each, so the words
say "searches" and give both counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.report.inputs import DatasetInfo
from audit.report.reading import MetricsIndex, OperatingPoint

IDENTIFICATION, VERIFICATION = "identification", "verification"
#: The non-mated and the mated (miss) rate of each kind of trial.
KIND_RATES = {IDENTIFICATION: ("fpir", "fnir"), VERIFICATION: ("fmr", "fnmr")}
#: Why a kind's miss rate has no trials (codes the templates word).
ONE_IMAGE_EACH = "one-image-each"  # nobody is in two images (UTKFace: no identities)
NO_WATCHLISTED_SEARCH = "no-watchlisted-search"  # 1:N: every search is of a passer-by
NO_SAME_PERSON_PAIR = "no-same-person-pair"  # 1:1: no comparison of one person's two images


@dataclass(frozen=True)
class DataKinds:
    """The kinds of trial with trials in the table, and the reasons for missing miss rates.

    ``kinds`` holds :data:`IDENTIFICATION` and/or :data:`VERIFICATION`;
    ``missing_misses`` maps each kind whose miss rate (FNIR, FNMR) has no
    trial at the primary point to its reason code.
    """

    kinds: tuple[str, ...] = ()
    missing_misses: tuple[tuple[str, str], ...] = ()
    #: ``(metric, searches, people)`` of each 1:N rate (``fpir``, ``fnir``) at the primary
    #: point whose people were searched more than once on average.
    repeated: tuple[tuple[str, int, int], ...] = ()

    @property
    def identification(self) -> bool:
        return IDENTIFICATION in self.kinds

    @property
    def verification(self) -> bool:
        return VERIFICATION in self.kinds

    @property
    def measured_misses(self) -> tuple[str, ...]:
        """The kinds whose miss rate was measured."""
        missing = dict(self.missing_misses)
        return tuple(k for k in self.kinds if k not in missing)

    @property
    def miss_reasons(self) -> tuple[str, ...]:
        """The distinct reason codes of the missing miss rates, in kind order."""
        return tuple(dict.fromkeys(reason for _, reason in self.missing_misses))

    def searches(self, metric: str) -> tuple[int, int] | None:
        """``(searches, people)`` behind a 1:N rate whose people were searched more than
        once on average, else None (one search each: "people" and "searches" agree)."""
        return next(((n, people) for m, n, people in self.repeated if m == metric), None)

    def miss_reason(self, metric: str) -> str | None:
        """The reason code for a miss rate (``fnir``, ``fnmr``, ``fnmr_incl_fta``) with no trial."""
        kind = IDENTIFICATION if metric == "fnir" else VERIFICATION
        return dict(self.missing_misses).get(kind) if metric.startswith("fn") else None


def _has_trials(index: MetricsIndex, metric: str, points: tuple[OperatingPoint, ...]) -> bool:
    rates = (index.overall(metric, p) for p in points)
    return any(r is not None and r.n_trials > 0 for r in rates)


def _one_image_each(datasets: tuple[DatasetInfo, ...]) -> bool:
    """Every dataset counted as many people as images: nobody appears twice."""
    counted = [d for d in datasets if d.subjects and d.images]
    return bool(counted) and all(d.subjects == d.images for d in counted)


def data_kinds(index: MetricsIndex, datasets: tuple[DatasetInfo, ...]) -> DataKinds:
    """The kinds of trial the table holds trials of (at any audited point) and, for
    each kind whose miss rate has none at the primary point, why: nobody is in two
    images, or (people do have several) no search was of a watchlisted person / no
    comparison was of one person's two images."""
    points = index.points
    kinds = tuple(kind for kind, rates in KIND_RATES.items()
                  if any(_has_trials(index, m, points) for m in rates))
    if not points:
        return DataKinds(kinds)
    single = _one_image_each(datasets)
    gaps = {IDENTIFICATION: NO_WATCHLISTED_SEARCH, VERIFICATION: NO_SAME_PERSON_PAIR}
    missing = tuple((kind, ONE_IMAGE_EACH if single else gaps[kind]) for kind in kinds
                    if not _has_trials(index, KIND_RATES[kind][1], points[:1]))
    return DataKinds(kinds, missing, _repeated(index, points[0]))


def _repeated(index: MetricsIndex, point: OperatingPoint) -> tuple[tuple[str, int, int], ...]:
    """Searches and people of each overall 1:N rate at ``point`` with more searches than
    people (the rows' ``n_trials`` and ``n_subjects``)."""
    found = []
    for metric in KIND_RATES[IDENTIFICATION]:
        row = index.overall(metric, point)
        if row is not None and row.n_trials > row.n_subjects > 0:
            found.append((metric, row.n_trials, row.n_subjects))
    return tuple(found)
