"""Watchlist-size curve: exact hypergeometric average vs enumeration, Monte Carlo and hand sums."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from toy_tables import make_tables

from audit.matching.gallery import exceedance_counts, gallery_counts
from audit.matching.identification import search_watchlist
from audit.metrics.watchlist_curve import curve_rows, no_alert_probability, size_grid


def toy_gallery(n_subjects, images_per, seed, *, fta=()):
    """Subjects with clustered embeddings (so some mated probes are beaten by others)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_subjects, 5))
    subjects, embeddings = [], []
    for s in range(n_subjects):
        for _ in range(images_per[s % len(images_per)]):
            subjects.append(f"s{s:03d}")
            embeddings.append(centres[s] + rng.normal(scale=0.9, size=5))
    status = ["ok"] * len(subjects)
    for i in fta:
        status[i] = "no_face"
    manifest, faces = make_tables(subjects, embeddings, status=status,
                                  gender=["f" if int(s[1:]) % 2 else "m" for s in subjects])
    return manifest, faces, np.array(subjects, dtype=object), np.array(embeddings), \
        np.array(status) == "ok"


def oracle_scores(embeddings):
    return 1 - cdist(embeddings, embeddings, "cosine")


def entries_of(counts):
    """Image position of each subject's entry (images are in subject, id order)."""
    return {s: i for i, s in enumerate(counts.probe_subject) if counts.entry[i]}


def test_exceedance_counts_equal_a_loop():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(30, 40)).astype(np.float32)
    thresholds = np.sort(np.append(rng.normal(size=12), scores[0, 0]))
    loop = np.array([[np.sum(row >= t) for t in thresholds] for row in scores.astype(np.float64)])
    np.testing.assert_array_equal(exceedance_counts(scores, thresholds), loop)


def test_no_alert_probability_equals_the_hypergeometric_pmf():
    from scipy.stats import hypergeom

    k, sizes = np.arange(0, 40), np.array([1, 5, 17, 39])
    got = no_alert_probability(k, 40, sizes)
    # P(no marked entry in a W-subset of 40 with k marked) = hypergeom.pmf(0, 40, k, W)
    want = np.array([[hypergeom.pmf(0, 40, kk, w) for w in sizes] for kk in k])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 4, None])
def test_gallery_counts_equal_brute_force(chunk_size):
    manifest, faces, subjects, emb, ok = toy_gallery(6, [1, 2, 3], 5, fta=(4,))
    thresholds = np.array([-0.2, 0.1, 0.3, 0.6])
    counts = gallery_counts(faces, manifest, thresholds=thresholds, chunk_size=chunk_size)
    scores = oracle_scores(emb)
    entry = entries_of(counts)
    assert counts.gallery_size == len(entry) == 6
    for i in range(len(subjects)):
        if not ok[i]:
            assert counts.others_at_least[i].sum() == 0 and np.isnan(counts.own_score[i])
            continue
        others = [scores[i, j] for s, j in entry.items() if s != subjects[i]]
        want = [sum(x >= t for x in others) for t in thresholds]
        np.testing.assert_array_equal(counts.others_at_least[i], want)
        if not counts.entry[i]:
            own = scores[i, entry[subjects[i]]]
            assert counts.own_score[i] == pytest.approx(own, abs=1e-5)
            assert counts.beaten_by[i] == sum(x > own + 1e-6 for x in others)


def enumerate_rates(counts, emb, ok, threshold, size):
    """FPIR and FNIR over every W-subset of gallery subjects, from scipy scores."""
    scores = oracle_scores(emb)
    entry = entries_of(counts)
    names = sorted(entry)
    subjects = counts.probe_subject
    alerts = nonmated = misses = mated = 0
    for chosen in itertools.combinations(names, size):
        cols = [entry[s] for s in chosen]
        for i in range(len(subjects)):
            s = scores[i, cols]
            if subjects[i] not in chosen:
                nonmated += 1
                alerts += bool(ok[i] and s.max() >= threshold)
            elif not counts.entry[i]:
                mated += 1
                own = scores[i, entry[subjects[i]]]
                hit = ok[i] and own >= threshold and not np.any(s > own + 1e-9)
                misses += not hit
    return alerts / nonmated, misses / mated


def test_exact_curve_equals_enumeration_of_every_watchlist():
    manifest, faces, subjects, emb, ok = toy_gallery(7, [1, 3, 2], 11, fta=(2,))
    thresholds = np.array([0.0, 0.35, 0.7])
    counts = gallery_counts(faces, manifest, thresholds=thresholds)
    points = pd.DataFrame({"threshold": thresholds, "operating_point": ["a", "b", "c"],
                           "point_kind": "deployment", "target": np.nan})
    sizes = np.arange(1, 7)
    rows = curve_rows(counts, points, sizes=sizes, images=manifest.to_pandas(), groupings=(),
                      confidence=0.95, interval="wilson-clustered", min_subjects=1, min_trials=1)
    for t, w in itertools.product(thresholds, sizes):
        fpir, fnir = enumerate_rates(counts, emb, ok, t, w)
        at = rows[(rows["threshold"] == t) & (rows["watchlist_size"] == w)].set_index("metric")
        assert at.loc["fpir", "value"] == pytest.approx(fpir, abs=1e-12)
        assert at.loc["fnir", "value"] == pytest.approx(fnir, abs=1e-12)
    spread = rows[rows["metric"] == "fpir"].groupby("threshold")["value"]
    assert (spread.max() - spread.min()).max() > 0.2  # the curve does move with W


def test_exact_curve_within_three_standard_errors_of_seeded_draws():
    manifest, faces, subjects, emb, ok = toy_gallery(60, [1, 2, 4], 2)
    thresholds = np.array([0.5, 0.8])
    counts = gallery_counts(faces, manifest, thresholds=thresholds, seed=4)
    points = pd.DataFrame({"threshold": thresholds, "operating_point": ["a", "b"],
                           "point_kind": "deployment", "target": np.nan})
    sizes = np.array([5, 20])
    rows = curve_rows(counts, points, sizes=sizes, images=manifest.to_pandas(), groupings=(),
                      confidence=0.95, interval="wilson-clustered", min_subjects=1, min_trials=1)
    entry = entries_of(counts)
    names = np.array(sorted(entry), dtype=object)
    rng = np.random.default_rng(99)
    for w in sizes:
        draws = []
        for _ in range(400):
            chosen = rng.choice(names, size=w, replace=False)
            cols = np.array([entry[s] for s in chosen])
            on = np.isin(subjects, chosen)
            true_entry = np.full(len(subjects), -1)
            mated = on & ~counts.entry
            true_entry[mated] = [list(chosen).index(s) for s in subjects[mated]]
            found = search_watchlist(emb[ok], emb[cols], true_entry=true_entry)
            best = found.best_score
            hit = (found.rank[mated] == 1)[:, None] & (best[mated][:, None] >= thresholds)
            draws.append([[np.sum(best[~on] >= t) for t in thresholds], [(~on).sum()] * 2,
                          list(np.sum(~hit, axis=0)), [mated.sum()] * 2])
        draws = np.array(draws, dtype=float)  # (draws, errors/trials of fpir/fnir, thresholds)
        for r, metric in enumerate(("fpir", "fnir")):
            errors, trials = draws[:, 2 * r], draws[:, 2 * r + 1]
            # Pooled ratio over draws and its delta-method standard error.
            mean = errors.sum(axis=0) / trials.sum(axis=0)
            se = np.sqrt(np.sum((errors - mean * trials) ** 2, axis=0)
                         / (len(draws) * (len(draws) - 1))) / trials.mean(axis=0)
            for j, t in enumerate(thresholds):
                exact = rows[(rows["metric"] == metric) & (rows["threshold"] == t)
                             & (rows["watchlist_size"] == w)]["value"].item()
                assert se[j] > 0
                assert abs(exact - mean[j]) <= 3 * se[j], (metric, t, w)


def test_largest_watchlist_is_the_plain_share_and_intervals_are_the_sandwich():
    from audit.metrics.intervals import clustered_wilson_interval

    manifest, faces, subjects, emb, ok = toy_gallery(9, [2, 3], 8)
    counts = gallery_counts(faces, manifest, thresholds=[0.6])
    points = pd.DataFrame({"threshold": [0.6], "operating_point": ["d"],
                           "point_kind": "deployment", "target": np.nan})
    rows = curve_rows(counts, points, sizes=np.array([8]), images=manifest.to_pandas(),
                      groupings=("gender",), confidence=0.95, interval="wilson-clustered",
                      min_subjects=1, min_trials=1)
    # W = G - 1: every other subject is listed, so an alert is a best other score >= t.
    alert = (counts.others_at_least[:, 0] > 0).astype(float)
    row = rows[(rows["metric"] == "fpir") & (rows["grouping"] == "overall")].iloc[0]
    assert row["value"] == pytest.approx(alert.mean())
    # Hand sandwich: per-subject sums, G/(G-1) sum u^2 / N^2, Wilson at N / deff.
    frame = pd.DataFrame({"s": counts.probe_subject, "e": alert}).groupby("s")["e"]
    e, n = frame.sum().to_numpy(), frame.size().to_numpy()
    p, big_n, g = e.sum() / n.sum(), n.sum(), len(n)
    variance = g / (g - 1) * np.sum((e - p * n) ** 2) / big_n**2
    deff = max(1.0, variance / (p * (1 - p) / big_n))
    low, high = clustered_wilson_interval(e.sum(), big_n, deff)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert set(rows["group"]) == {"all", "f", "m"}


def test_size_grid_spans_one_to_the_gallery_and_keeps_requested_sizes():
    grid = size_grid(5000, points=10, include=(100, 1000, 10_000))
    assert grid[0] == 1 and grid[-1] == 4999 and {100, 1000} <= set(grid.tolist())
    assert 10_000 not in grid


def curve_frame(values_by_size, metric="fpir", group="all"):
    """Curve rows of one series with hand-chosen values (ci = value -/+ 10%)."""
    sizes = np.array(sorted(values_by_size))
    v = np.array([values_by_size[w] for w in sizes])
    return pd.DataFrame({
        "metric": metric, "grouping": "overall", "group": group, "threshold": 0.6,
        "value": v, "ci_low": 0.9 * v, "ci_high": 1.1 * v, "ci_method": "wilson-clustered",
        "n_trials": 1000, "n_subjects": 100, "n_errors": np.round(1000 * v).astype(int),
        "sufficient": True, "operating_point": "deployment", "statistic": "watchlist_curve",
        "group_b": None, "point_kind": "deployment", "target": np.nan, "watchlist_size": sizes})


def test_projection_reads_the_curve_by_hand_arithmetic_and_labels_extrapolation():
    from audit.metrics.size_projection import (EXTRAPOLATED, INTERPOLATED, MODEL_ERROR,
                                               project_from_curve)

    fpir = {1: 0.001, 10: 0.01, 100: 0.05}
    fnir = {1: 0.10, 10: 0.12, 100: 0.20}
    curve = pd.concat([curve_frame(fpir), curve_frame(fnir, "fnir")], ignore_index=True)
    at = {}
    for w in (10, 31, 400):
        out = project_from_curve(curve, crowd_size=100_000, watchlist_share=0.0,
                                 watchlist_size=w).to_pandas()
        at[w] = out[out["watchlist_size"] == w].set_index(["statistic", "metric"])
        tenfold = out[(out["watchlist_size"] == 10 * w) & (out["statistic"] == "rate_at_size")]
        assert set(tenfold["metric"]) == {"fpir", "fnir"}
    # Measured size: the curve's row as it is; false alerts = N * FPIR.
    assert at[10].loc[("rate_at_size", "fpir"), "value"] == 0.01
    assert at[10].loc[("projection", "projected_false_alerts"), "value"] == pytest.approx(1000)
    # Inside the range: linear in log W between 10 and 100.
    share = (np.log(31) - np.log(10)) / (np.log(100) - np.log(10))
    row = at[31].loc[("rate_at_size", "fpir")]
    assert row["value"] == pytest.approx(0.01 + share * 0.04)
    assert row["ci_method"] == INTERPOLATED
    # Beyond: 1 - (1 - 0.05)^(400/100), labelled, with the model's error on the measured range.
    row = at[400].loc[("rate_at_size", "fpir")]
    assert row["value"] == pytest.approx(1 - 0.95**4)
    assert row["ci_high"] == pytest.approx(1 - (1 - 0.055) ** 4)
    assert row["ci_method"] == EXTRAPOLATED
    fitted = [1 - 0.95 ** (w / 100) for w in (1, 10)]
    gap = max(abs(fitted[0] - 0.001) / 0.001, abs(fitted[1] - 0.01) / 0.01)
    assert at[400].loc[(MODEL_ERROR, "fpir"), "value"] == pytest.approx(gap)
    hit = 0.9 * (0.8 / 0.9) ** (399 / 99)
    assert at[400].loc[("rate_at_size", "fnir"), "value"] == pytest.approx(1 - hit)
    assert at[400].loc[("projection", "projected_false_alerts"), "value"] == pytest.approx(
        100_000 * (1 - 0.95**4))


@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_streaming_histogram_gives_the_same_fpir_curve(chunk_size):
    from audit.matching.streaming import exceedance_histogram
    from audit.metrics.watchlist_curve import fpir_from_histogram

    manifest, faces, subjects, emb, ok = toy_gallery(30, [1, 2, 3], 6)
    thresholds = np.array([0.2, 0.5, 0.8])
    counts = gallery_counts(faces, manifest, thresholds=thresholds)
    points = pd.DataFrame({"threshold": thresholds, "operating_point": ["a", "b", "c"],
                           "point_kind": "deployment", "target": np.nan})
    sizes = np.array([1, 4, 12, 29])
    rows = curve_rows(counts, points, sizes=sizes, images=manifest.to_pandas(), groupings=(),
                      confidence=0.95, interval="wilson-clustered", min_subjects=1, min_trials=1)
    entry = entries_of(counts)
    gallery = np.array([entry[s] for s in sorted(entry)])
    own = np.array([sorted(entry).index(s) for s in subjects])
    hist = exceedance_histogram(emb, emb[gallery], thresholds, own_column=own,
                                chunk_size=chunk_size)
    assert hist.sum() == len(subjects) * len(thresholds)
    got = fpir_from_histogram(hist, 29, sizes)
    want = rows[rows["metric"] == "fpir"].sort_values(["threshold", "watchlist_size"])["value"]
    np.testing.assert_allclose(got.ravel(), want.to_numpy(), rtol=1e-12)


def _toy_curve() -> pd.DataFrame:
    """The curve rows of a 40-person toy gallery at one threshold, by gender."""
    manifest, faces, subjects, emb, ok = toy_gallery(40, [2, 3], 9)
    counts = gallery_counts(faces, manifest, thresholds=[0.5])
    points = pd.DataFrame({"threshold": [0.5], "operating_point": ["deployment"],
                           "point_kind": "deployment", "target": np.nan})
    curve = curve_rows(counts, points, sizes=np.array([1, 5, 20, 39]),
                       images=manifest.to_pandas(), groupings=("gender",), confidence=0.95,
                       interval="wilson-clustered", min_subjects=1, min_trials=1)
    return curve


def test_report_reads_the_curve_rows_and_draws_them():
    from audit.metrics.size_projection import project_from_curve
    from audit.report.reading import OperatingPoint
    from audit.report.size_figures import watchlist_size
    from audit.report.watchlist_size import size_curves

    curve = _toy_curve()
    projected = project_from_curve(curve, crowd_size=1000, watchlist_share=0.01,
                                   watchlist_size=100).to_pandas()
    metrics = pd.concat([curve, projected], ignore_index=True)
    point = OperatingPoint("p", "deployment", 0.5, "deployment")
    overall, by_gender = size_curves(metrics, point, ("gender",))
    assert overall.grouping == "overall" and by_gender.grouping == "gender"
    assert overall.largest == 39 and overall.deployment_size == 100 and overall.extrapolated
    read = overall.at("fpir")
    want = projected[(projected["statistic"] == "rate_at_size") & (projected["metric"] == "fpir")
                     & (projected["grouping"] == "overall") & (projected["watchlist_size"] == 100)]
    assert read.rate.value == pytest.approx(want["value"].item())
    assert read.model_error is not None and overall.at("fpir", "all", 1000) is not None
    assert [s.group for s in by_gender.series["fpir"]] == ["all", "f", "m"]
    svg = watchlist_size(by_gender, figure_id="w", titles={"fpir": "FPIR", "fnir": "FNIR"},
                         xlabel="W", overall_label="All", deployment_label="deployment W")
    assert "<svg" in svg.markup and "deployment W" in svg.markup


def test_k_captures_alert_when_any_capture_alerts_by_enumeration():
    manifest, faces, subjects, emb, ok = toy_gallery(7, [3, 1, 2], 13)
    thresholds = np.array([0.2, 0.5])
    counts = gallery_counts(faces, manifest, thresholds=thresholds, captures=2)
    # People with 2 usable images: their first two, in image order.
    firsts = {}
    for i, s in enumerate(counts.probe_subject):
        firsts.setdefault(s, []).append(i)
    people = [s for s, rows in firsts.items() if len(rows) >= 2]
    assert counts.person_subject.tolist() == people
    scores = oracle_scores(emb)
    entry = entries_of(counts)
    points = pd.DataFrame({"threshold": thresholds, "operating_point": ["a", "b"],
                           "point_kind": "deployment", "target": np.nan})
    rows = curve_rows(counts, points, sizes=np.array([1, 3, 6]), images=manifest.to_pandas(),
                      groupings=(), confidence=0.95, interval="wilson-clustered",
                      min_subjects=1, min_trials=1)
    for t, w in itertools.product(thresholds, (1, 3, 6)):
        alerts = trials = 0
        for chosen in itertools.combinations(sorted(entry), w):
            for person in people:
                if person in chosen:
                    continue
                captured = scores[np.ix_(firsts[person][:2], [entry[s] for s in chosen])]
                trials += 1
                alerts += bool(np.any(captured >= t))
        got = rows[(rows["metric"] == "fpir_per_person") & (rows["threshold"] == t)
                   & (rows["watchlist_size"] == w)]
        assert got["value"].item() == pytest.approx(alerts / trials, abs=1e-12)
        assert got["n_trials"].item() == len(people)


def test_without_miss_rates_the_figure_draws_no_empty_miss_panel():
    """A dataset without identities (UTKFace) has no FNIR curve: the figure keeps the
    false alert panel only, instead of empty axes labelled 100%-1000%."""
    from audit.metrics.size_projection import project_from_curve
    from audit.report.reading import OperatingPoint
    from audit.report.size_figures import watchlist_size
    from audit.report.watchlist_size import size_curves

    curve = _toy_curve()
    curve = curve[curve["metric"] != "fnir"]
    projected = project_from_curve(curve, crowd_size=1000, watchlist_share=0.01,
                                   watchlist_size=20).to_pandas()
    point = OperatingPoint("p", "deployment", 0.5, "deployment")
    both = size_curves(pd.concat([curve, projected], ignore_index=True), point, ("gender",))
    words = {"figure_id": "w", "titles": {"fpir": "False alerts", "fnir": "Misses"},
             "xlabel": "W", "overall_label": "All", "deployment_label": "deployment W"}
    for drawn in both:
        assert drawn.drawn == ("fpir",)
        svg = watchlist_size(drawn, **words).markup
        assert "False alerts" in svg and "Misses" not in svg
