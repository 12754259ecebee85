r"""Each probe's expected false alert or miss over every watchlist of size W and a stated make-up.

The watchlist is drawn without replacement within each stratum ``s`` of a
grouping: :math:`W_s` of its :math:`G_s` gallery people
(:mod:`audit.matching.makeup`; uniform is one stratum holding everyone, with
:math:`W_1 = W`). Strata are drawn independently, so the chance that none of
the :math:`k_s` entries of each stratum that alert is listed is a product of
hypergeometric terms, taken in log space (``scipy.special.gammaln``):

.. math::
   P(\text{none listed}) = \prod_s \binom{G'_s - k_s}{W'_s} \Big/ \binom{G'_s}{W'_s}

For a **passer-by** (non-mated: their own subject off the list)
:math:`G'_s = G_s - [s = s_0]` and :math:`W'_s = W_s`, where :math:`s_0` is
their own stratum. For a **wanted person** (their entry listed) the other
entries are :math:`W'_s = W_s - [s = s_0]` of the :math:`G'_s` others, and
:math:`k_s` counts the entries scoring strictly above their own.

**Weights.** Under a stratified make-up a wanted person of stratum ``s`` is
on the list with probability :math:`\pi_s = W_s / G_s`, so a miss rate over
the people on the list weights each mated probe by :math:`\pi_s` (a ratio of
expected counts, as pooled draws would give; within one stratum the weight
is constant and changes nothing). Passers-by are the crowd: every probe
counts once, conditional on its subject being off the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from audit.matching.makeup import Composition

#: Metric of FPIR under a uniform make-up, written beside a stated one that differs.
FPIR_UNIFORM = "fpir_uniform"
#: Metrics of a person seen ``captures`` times: alerted (found) if any capture is.
FPIR_PER_PERSON, FNIR_PER_PERSON = "fpir_per_person", "fnir_per_person"


def none_listed(k, free, drawn) -> np.ndarray:
    """``C(free - k, drawn) / C(free, drawn)``, broadcast; 0 where ``k > free - drawn``.

    >>> none_listed(np.array([0, 1, 2]), 3, 2).round(4).tolist()
    [1.0, 0.3333, 0.0]
    """
    k, free, drawn = (np.asarray(x, dtype=np.float64) for x in (k, free, drawn))
    rest = free - k
    with np.errstate(invalid="ignore"):
        log_p = (gammaln(rest + 1) - gammaln(rest - drawn + 1)
                 - gammaln(free + 1) + gammaln(free - drawn + 1))
    return np.where(rest >= drawn, np.exp(log_p), 0.0)


@dataclass(frozen=True)
class Design:
    """The strata a watchlist of each size is drawn from: ``people`` (S,) gallery entries
    per stratum and ``quotas`` (S, len(sizes)) entries drawn from each."""

    people: np.ndarray
    quotas: np.ndarray

    @classmethod
    def of(cls, counts, comp: Composition, sizes: np.ndarray) -> Design:
        """The design of ``comp`` over the strata of ``counts`` (one stratum when uniform)."""
        if comp.uniform:
            return cls(np.array([counts.gallery_size]), np.asarray(sizes, np.int64)[None, :])
        return cls(np.asarray(counts.stratum_people), comp.quotas(counts.strata, sizes))

    def none_listed(self, k: np.ndarray, own: np.ndarray, *, mated: bool) -> np.ndarray:
        """P(none of the ``k`` entries of each stratum listed), product over strata.

        ``k`` has shape (m, S, ...) and ``own`` (m,) holds each row's own
        stratum; returns shape (m, ..., len(sizes)).
        """
        k = np.asarray(k)
        mine = (np.asarray(own)[:, None] == np.arange(self.people.size)[None, :]).astype(np.int64)
        extra = (1,) * (k.ndim - 2)
        free = (self.people[None, :] - mine).reshape(mine.shape + extra + (1,))
        drawn = np.broadcast_to(self.quotas[None, :, :] - (mine[:, :, None] if mated else 0),
                                mine.shape + self.quotas.shape[1:])
        drawn = np.maximum(drawn, 0).reshape(mine.shape + extra + self.quotas.shape[1:])
        return np.prod(none_listed(k[..., None], free, drawn), axis=1)

    def listed_weight(self, own: np.ndarray) -> np.ndarray:
        """(m, len(sizes)): the chance each wanted person's subject is on the list."""
        return self.quotas[own] / np.maximum(self.people[own], 1)[:, None]


@dataclass(frozen=True)
class ErrorPart:
    """One metric's expected errors: ``errors`` (m, T, sizes) for probes (or people)
    of ``subjects``; ``rows`` picks their labels; ``weights`` (m, sizes) or None."""

    metric: str
    subjects: np.ndarray
    rows: np.ndarray | None  # probe positions whose labels apply; None: people of ``subjects``
    errors: np.ndarray
    weights: np.ndarray | None = None


def _strata_sum(k: np.ndarray, comp: Composition) -> np.ndarray:
    """Per-stratum counts, or their total as one stratum when the make-up is uniform."""
    return k.sum(axis=1, keepdims=True) if comp.uniform else k


def _own(stratum: np.ndarray, comp: Composition) -> np.ndarray:
    """Each row's own stratum (0, the only one, when uniform)."""
    return np.zeros_like(stratum) if comp.uniform else stratum


def expected_parts(counts, sizes: np.ndarray, comp: Composition) -> list[ErrorPart]:
    """Expected false alerts and misses of every probe (and person seen k times)."""
    design = Design.of(counts, comp, sizes)
    stratum = _own(counts.probe_stratum, comp)
    alert = 1.0 - design.none_listed(_strata_sum(counts.stratum_at_least, comp),
                                     stratum, mated=False)
    alert[~counts.acquired] = 0.0
    mated = counts.has_entry & ~counts.entry
    own = counts.own_score[mated]
    with np.errstate(invalid="ignore"):
        reaches = (own[:, None] >= counts.thresholds[None, :]) & counts.acquired[mated][:, None]
    beaten = _strata_sum(counts.stratum_beaten[mated], comp)
    rank_one = design.none_listed(beaten, stratum[mated], mated=True)
    parts = [ErrorPart("fpir", counts.probe_subject, np.arange(len(stratum)), alert),
             ErrorPart("fnir", counts.probe_subject[mated], np.flatnonzero(mated),
                       1.0 - reaches[:, :, None] * rank_one[:, None, :],
                       design.listed_weight(stratum[mated]))]
    if not comp.uniform:
        uniform = expected_parts_uniform_fpir(counts, sizes)
        parts.append(ErrorPart(FPIR_UNIFORM, counts.probe_subject, parts[0].rows, uniform))
    if counts.people is not None:
        parts += _per_person(counts, design, comp)
    return parts


def expected_parts_uniform_fpir(counts, sizes: np.ndarray) -> np.ndarray:
    """FPIR's expected errors under a uniform make-up, for the report's comparison."""
    design = Design.of(counts, Composition("uniform"), sizes)
    alert = 1.0 - design.none_listed(counts.others_at_least[:, None, :],
                                     np.zeros(len(counts.probe_id), dtype=np.int64), mated=False)
    alert[~counts.acquired] = 0.0
    return alert


def _per_person(counts, design: Design, comp: Composition) -> list[ErrorPart]:
    """A passer-by alerted by any of k captures; a wanted person found by any of them
    (inclusion-exclusion over the subsets of captures, :mod:`audit.matching.captures`)."""
    people = counts.people
    passer = _own(people.passer_stratum, comp)
    alert = 1.0 - design.none_listed(_strata_sum(people.passer_at_least, comp),
                                     passer, mated=False)
    wanted = _own(people.wanted_stratum, comp)
    union = np.moveaxis(people.wanted_union, 2, 1)  # (Q, S, U)
    free = design.none_listed(_strata_sum(union, comp), wanted, mated=True)  # (Q, U, W)
    with np.errstate(invalid="ignore"):
        active = people.wanted_own[:, :, None] >= counts.thresholds[None, None, :]  # (Q, U, T)
    found = np.einsum("u,qut,quw->qtw", people.subset_sign.astype(np.float64),
                      active.astype(np.float64), free)
    return [ErrorPart(FPIR_PER_PERSON, people.passer_subject, None, alert),
            ErrorPart(FNIR_PER_PERSON, people.wanted_subject, None, 1.0 - found,
                      design.listed_weight(wanted))]
