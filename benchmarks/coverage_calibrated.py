"""Coverage at a calibrated threshold: the scenario of ``bench_coverage.py`` that calibrates.

Each simulated audit calibrates its threshold on its own data so that the
overall observed FMR is at most a target (``compute_metrics(target_fmr=...)``),
then reads every group's FMR and FNMR there. The intervals of those rows
carry the threshold's own uncertainty (linearised, ``audit.metrics.points``).
The truth is each group's rate at the *population* threshold: the threshold
the calibration would give with infinite data, where the population's
overall FMR equals the target.

Scores are normal, so every truth is exact (no quadrature):

* non-mated pair (i, j), probe i of group g: ``m_g + a_i + a_j + e`` with the
  same person effect ``a ~ N(0, sd_person^2)`` whichever side the person is on
  and ``e ~ N(0, sd_noise^2)``; pairs between random distinct subjects, as
  scenario 3. With a random partner the score is ``N(m_g, 2 sd_person^2 +
  sd_noise^2)``, so ``FMR_g(t) = P(score >= t)`` in closed form, and the
  population threshold solves the pairs-weighted mean of the two groups'
  FMR (probes are uniform over subjects: weights = group sizes) = target.
* mated comparisons of subject i (5-15 each): ``m'_g + b_i + e`` with
  ``b ~ N(0, sd_person^2)``, so ``FNMR_g(t) = P(N(m'_g, sd_person^2 +
  sd_noise^2) < t)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from audit.metrics import compute_metrics

CLUSTERED = "wilson-clustered"


@dataclass(frozen=True)
class CalibratedScenario:
    """Two groups whose FMR and FNMR are read at a threshold calibrated on the audit's data."""

    key: str
    title: str
    seed: int
    labels: tuple[str, str]
    subjects: tuple[int, int]
    target_fmr: float
    nonmated_means: tuple[float, float]
    mated_means: tuple[float, float]
    sd_person: float
    sd_noise: float
    pairs: int
    trials: tuple[int, int] = (5, 15)
    min_subjects: int = 30
    min_trials: int = 100
    null: bool = False
    rate: str = "calibrated"

    @property
    def nonmated_sd(self) -> float:
        return math.sqrt(2 * self.sd_person**2 + self.sd_noise**2)

    @property
    def mated_sd(self) -> float:
        return math.sqrt(self.sd_person**2 + self.sd_noise**2)


SCENARIO = CalibratedScenario(
    "calibrated", "6. FMR and FNMR at a threshold calibrated to overall FMR 1% on the audit's data",
    108, ("g1", "g2"), (60, 60), 0.01, nonmated_means=(0.0, -0.4), mated_means=(4.8, 5.2),
    sd_person=0.5, sd_noise=1.0, pairs=6000)


@dataclass(frozen=True)
class CalibratedTruth:
    threshold: float
    rates: dict[str, dict[str, float]]  # rate -> group -> true rate at the population threshold


def truth_of(scenario: CalibratedScenario) -> CalibratedTruth:
    """Population threshold and both rates of both groups there (closed form)."""
    weights = np.asarray(scenario.subjects, dtype=np.float64) / sum(scenario.subjects)
    means = np.asarray(scenario.nonmated_means)

    def overall_fmr(t: float) -> float:
        return float(np.sum(weights * stats.norm.sf(t, means, scenario.nonmated_sd)))

    t = optimize.brentq(lambda x: overall_fmr(x) - scenario.target_fmr, -20, 20, xtol=1e-14)
    fmr = stats.norm.sf(t, means, scenario.nonmated_sd)
    fnmr = stats.norm.cdf(t, np.asarray(scenario.mated_means), scenario.mated_sd)
    return CalibratedTruth(float(t), {
        "fmr": dict(zip(scenario.labels, map(float, fmr), strict=True)),
        "fnmr": dict(zip(scenario.labels, map(float, fnmr), strict=True)),
    })


def simulate(scenario: CalibratedScenario, rng: np.random.Generator):
    """Mated and non-mated verification scores of one audit, and its images table."""
    group = np.repeat([0, 1], scenario.subjects)
    n = group.size
    labels = np.asarray(scenario.labels, dtype=object)
    subject = np.array([f"{labels[g]}-{k}" for g in (0, 1) for k in range(scenario.subjects[g])],
                       dtype=object)
    image = np.array([s + "/0" for s in subject], dtype=object)
    person = rng.normal(0.0, scenario.sd_person, n)
    i = rng.integers(0, n, scenario.pairs)
    j = (i + rng.integers(1, n, scenario.pairs)) % n
    nonmated = (np.asarray(scenario.nonmated_means)[group[i]] + person[i] + person[j]
                + rng.normal(0.0, scenario.sd_noise, scenario.pairs))
    k = rng.integers(scenario.trials[0], scenario.trials[1] + 1, n)
    owner = np.repeat(np.arange(n), k)
    mated_person = rng.normal(0.0, scenario.sd_person, n)
    mated = (np.asarray(scenario.mated_means)[group[owner]] + mated_person[owner]
             + rng.normal(0.0, scenario.sd_noise, owner.size))
    references = np.array([f"{subject[s]}/{q + 1}" for s, m in enumerate(k) for q in range(m)],
                          dtype=object)
    scores = pd.DataFrame({
        "trial_kind": "verification",
        "probe_id": np.concatenate([image[i], image[owner]]),
        "reference_id": np.concatenate([image[j], references]),
        "probe_subject": np.concatenate([subject[i], subject[owner]]),
        "reference_subject": np.concatenate([subject[j], subject[owner]]),
        "score": np.concatenate([nonmated, mated]),
        "mated": np.concatenate([np.zeros(i.size, bool), np.ones(owner.size, bool)]),
        "fold": None, "rank": None, "best_is_true_entry": None,
    })
    images = pd.DataFrame({
        "image_id": np.concatenate([image, references]),
        "subject_id": np.concatenate([subject, subject[owner]]),
        "group": np.concatenate([labels[group], labels[group[owner]]]),
    })
    return scores, images


def run_audit(scenario: CalibratedScenario, truth: CalibratedTruth, audit_index: int,
              record) -> list[dict]:
    """Every interval of the calibrated point's FMR and FNMR rows, with the truth beside it.

    ``record`` is ``bench_coverage._record`` (one coverage record).
    """
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, audit_index]))
    scores, images = simulate(scenario, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = compute_metrics(
            scores, images, target_fmr=(scenario.target_fmr,), groupings=("group",),
            cross_groupings=(), min_subjects=scenario.min_subjects,
            min_trials=scenario.min_trials, interval=CLUSTERED).to_pandas()
    chosen = metrics[(metrics["grouping"] == "group") & (metrics["point_kind"] == "target_fmr")]
    out = []
    for rate in ("fmr", "fnmr"):
        rows = chosen[chosen["metric"] == rate]
        true = truth.rates[rate]
        for _, row in rows[rows["statistic"] == "rate"].iterrows():
            out.append(record(scenario, audit_index, CLUSTERED, f"{rate} rate {row['group']}",
                              row["value"], row["ci_low"], row["ci_high"], true[row["group"]],
                              row["ci_method"], int(row["n_errors"]),
                              n_trials=int(row["n_trials"])))
        by = rows[rows["statistic"].isin(["ratio", "difference", "p_value"])].set_index(
            "statistic")
        if "ratio" not in by.index:
            continue
        higher, lower = by.loc["ratio", "group"], by.loc["ratio", "group_b"]
        for statistic, value in (("ratio", true[higher] / true[lower]),
                                 ("difference", true[higher] - true[lower])):
            out.append(record(scenario, audit_index, CLUSTERED, f"{rate} {statistic}",
                              by.loc[statistic, "value"], by.loc[statistic, "ci_low"],
                              by.loc[statistic, "ci_high"], value, by.loc[statistic, "ci_method"],
                              int(by.loc[statistic, "n_errors"]),
                              float(by.loc["p_value", "value"])))
    threshold = chosen["threshold"].iloc[0] if len(chosen) else np.nan
    for r in out:
        r["calibrated_threshold"] = float(threshold)
    return out


def scenario_text(scenario: CalibratedScenario, truth: CalibratedTruth) -> str:
    groups = "; ".join(
        f"{label}: {n} subjects, true FMR {truth.rates['fmr'][label] * 100:.4g}% and FNMR "
        f"{truth.rates['fnmr'][label] * 100:.4g}% at the population threshold"
        for label, n in zip(scenario.labels, scenario.subjects, strict=True))
    return (f"{scenario.pairs:,} non-mated pairs between random distinct subjects and "
            f"{scenario.trials[0]}-{scenario.trials[1]} mated comparisons per subject; normal "
            f"scores, person effect sd {scenario.sd_person:g} (both sides of a non-mated pair), "
            f"noise sd {scenario.sd_noise:g}; non-mated means {scenario.nonmated_means}, mated "
            f"means {scenario.mated_means}; threshold calibrated on each audit's non-mated "
            f"scores to overall FMR <= {scenario.target_fmr:g}; population threshold "
            f"{truth.threshold:.4f} (overall population FMR = target there); "
            f"min_subjects={scenario.min_subjects}, min_trials={scenario.min_trials}. {groups}. "
            "Rows read: `point_kind == \"target_fmr\"`, `interval=\"wilson-clustered\"` only.")
