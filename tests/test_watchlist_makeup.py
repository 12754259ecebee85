"""Watchlist make-up: stratified exact curve vs enumeration and seeded draws; quotas; captures."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_watchlist_curve import entries_of, oracle_scores, toy_gallery

from audit.matching.captures import CaptureCounts
from audit.matching.gallery import gallery_counts
from audit.matching.identification import _draw_watchlist, _DrawDesign, search_watchlist
from audit.matching._images import load_images
from audit.matching.makeup import Composition, composition, largest_size, spec_composition
from audit.metrics.expected_errors import Design, expected_parts
from audit.metrics.watchlist_curve import composition_rows, curve_rows

SHARES = Composition("shares", "gender", {"f": 0.4, "m": 0.6})


def points_at(thresholds):
    return pd.DataFrame({"threshold": thresholds, "operating_point": [f"p{i}" for i in
                                                                      range(len(thresholds))],
                         "point_kind": "deployment", "target": np.nan})


def test_quotas_add_up_by_largest_remainder():
    strata = np.array(["f", "m", "x"])
    comp = Composition("shares", "g", {"f": 1 / 3, "m": 1 / 3, "x": 1 / 3})
    quotas = comp.quotas(strata, np.arange(1, 50))
    assert np.all(quotas.sum(axis=0) == np.arange(1, 50))
    assert np.all(np.abs(quotas - np.arange(1, 50) / 3) < 1)
    assert SHARES.quotas(np.array(["f", "m"]), np.array([1, 2, 5])).tolist() == [[0, 1, 2],
                                                                               [1, 1, 3]]
    # Each group keeps one person off the list: W = 8 would take 5 of the 5 men.
    assert largest_size(SHARES, np.array(["f", "m"]), np.array([4, 5])) == 7
    # A group without a gallery entry (labels of people with no usable face) limits nothing.
    assert largest_size(SHARES, np.array(["f", "m", "unknown"]), np.array([4, 5, 0])) == 7


def test_composition_is_checked_against_the_data_before_any_work():
    labels = np.array(["female", "male", "unknown"], dtype=object)
    assert composition("balanced", "gender", labels).shares == {"female": 0.5, "male": 0.5}
    with pytest.raises(ValueError, match=r"names \['woman'\], not groups of 'gender'"):
        composition({"woman": 0.5, "male": 0.5}, "gender", labels)
    with pytest.raises(ValueError, match="add up to 1"):
        composition({"female": 0.5, "male": 0.6}, "gender", labels)
    import pyarrow as pa

    manifest = pa.table({"image_id": ["a"], "path": ["a.jpg"], "subject_id": ["s"],
                         "gender": ["female"]})
    with pytest.raises(ValueError, match="composition_by = 'age' is not a label column"):
        spec_composition({"x": 1.0}, "age", manifest)


def enumerate_stratified(counts, emb, ok, threshold, quotas):
    """Every stratified list: per-probe FPIR conditional on its subject being off the list
    (mean over probes) and the pooled miss rate over the wanted people listed."""
    scores = oracle_scores(emb)
    entry = entries_of(counts)
    gender = {s: counts.strata[counts.probe_stratum[i]] for i, s in enumerate(counts.probe_subject)}
    by = {g: sorted(s for s in entry if gender[s] == g) for g in ("f", "m")}
    lists = [a + b for a, b in itertools.product(itertools.combinations(by["f"], quotas["f"]),
                                                 itertools.combinations(by["m"], quotas["m"]))]
    subjects = counts.probe_subject
    alerts = np.zeros(len(subjects))
    off = np.zeros(len(subjects))
    misses = mated = 0
    miss_by = {"f": [0, 0], "m": [0, 0]}
    for chosen in lists:
        cols = [entry[s] for s in chosen]
        for i in range(len(subjects)):
            s = scores[i, cols]
            if subjects[i] not in chosen:
                off[i] += 1
                alerts[i] += bool(ok[i] and s.max() >= threshold)
            elif not counts.entry[i]:
                own = scores[i, entry[subjects[i]]]
                miss = not (ok[i] and own >= threshold and not np.any(s > own + 1e-9))
                misses += miss
                mated += 1
                miss_by[gender[subjects[i]]][0] += miss
                miss_by[gender[subjects[i]]][1] += 1
    per_probe = alerts / off
    return per_probe, misses / mated, {g: m / n for g, (m, n) in miss_by.items() if n}


def test_stratified_exact_curve_equals_enumeration_of_every_list():
    manifest, faces, subjects, emb, ok = toy_gallery(9, [1, 3, 2], 11, fta=(2,))
    thresholds = np.array([0.0, 0.35, 0.7])
    counts = gallery_counts(faces, manifest, thresholds=thresholds, strata="gender")
    assert counts.strata.tolist() == ["f", "m"] and counts.stratum_people.tolist() == [4, 5]
    sizes = np.arange(1, 7)
    rows = curve_rows(counts, points_at(thresholds), sizes=sizes, images=manifest.to_pandas(),
                      groupings=("gender",), confidence=0.95, interval="wilson-clustered",
                      min_subjects=1, min_trials=1, composition=SHARES)
    quotas = SHARES.quotas(counts.strata, sizes)
    gender = manifest.to_pandas().set_index("image_id")["gender"].reindex(counts.probe_id)
    for (j, t), (w_at, w) in itertools.product(enumerate(thresholds), enumerate(sizes)):
        per_probe, fnir, fnir_by = enumerate_stratified(
            counts, emb, ok, t, {"f": quotas[0, w_at], "m": quotas[1, w_at]})
        at = rows[(rows["threshold"] == t) & (rows["watchlist_size"] == w)]
        get = at.set_index(["metric", "group"])["value"]
        assert get[("fpir", "all")] == pytest.approx(per_probe.mean(), abs=1e-12)
        for g in ("f", "m"):
            assert get[("fpir", g)] == pytest.approx(per_probe[gender == g].mean(), abs=1e-12)
            if g in fnir_by:
                assert get[("fnir", g)] == pytest.approx(fnir_by[g], abs=1e-12)
            else:  # nobody of the group is listed at this W: no miss rate
                assert np.isnan(get[("fnir", g)])
        assert get[("fnir", "all")] == pytest.approx(fnir, abs=1e-12)
    # A stated make-up also writes FPIR under a uniform one, equal to the uniform curve.
    uniform = curve_rows(counts, points_at(thresholds), sizes=sizes,
                         images=manifest.to_pandas(), groupings=("gender",), confidence=0.95,
                         interval="wilson-clustered", min_subjects=1, min_trials=1)
    beside = rows[rows["metric"] == "fpir_uniform"]["value"].to_numpy()
    np.testing.assert_allclose(beside, uniform[uniform["metric"] == "fpir"]["value"], rtol=1e-12)
    assert not np.allclose(beside, rows[rows["metric"] == "fpir"]["value"])


def test_stratified_curve_within_three_standard_errors_of_seeded_stratified_draws():
    """Watchlists drawn within strata from the same gallery entries, searched with the 1:N
    search: pooled per-draw counts agree with the exact rows within 3 standard errors."""
    manifest, faces, subjects, emb, ok = toy_gallery(60, [1, 2, 4], 2)
    comp = Composition("shares", "gender", {"f": 0.2, "m": 0.8})
    thresholds = np.array([0.5, 0.8])
    counts = gallery_counts(faces, manifest, thresholds=thresholds, seed=4, strata="gender")
    w = 20
    rows = curve_rows(counts, points_at(thresholds), sizes=np.array([w]),
                      images=manifest.to_pandas(), groupings=("gender",), confidence=0.95,
                      interval="wilson-clustered", min_subjects=1, min_trials=1,
                      composition=comp)
    entry = entries_of(counts)
    gender = np.asarray(counts.strata[counts.probe_stratum], dtype=object)
    pools = {g: np.array(sorted(s for s in entry if gender[entry[s]] == g), dtype=object)
             for g in ("f", "m")}
    quota = dict(zip(counts.strata, comp.quotas(counts.strata, np.array([w]))[:, 0]))
    rng = np.random.default_rng(99)
    counted = {}  # (metric, group) -> per draw (errors per threshold, trials)
    for _ in range(400):
        chosen = np.concatenate([rng.choice(pools[g], size=quota[g], replace=False)
                                 for g in ("f", "m")])
        on = np.isin(subjects, chosen)
        mated = on & ~counts.entry
        true_entry = np.full(len(subjects), -1)
        true_entry[mated] = [list(chosen).index(s) for s in subjects[mated]]
        found = search_watchlist(emb, emb[[entry[s] for s in chosen]], true_entry=true_entry)
        alert = found.best_score[:, None] >= thresholds
        miss = ~((found.rank == 1)[:, None] & alert)
        for g in ("f", "m", "all"):
            mine = np.ones(len(subjects), bool) if g == "all" else gender == g
            for metric, kept, errors in (("fpir", ~on & mine, alert), ("fnir", mated & mine, miss)):
                counted.setdefault((metric, g), []).append((errors[kept].sum(axis=0), kept.sum()))
    for (metric, g), draws in counted.items():
        if metric == "fpir" and g == "all":
            continue  # the exact FPIR counts every probe once; draws weight groups by 1 - pi
        e = np.array([d[0] for d in draws], dtype=float)
        n = np.array([d[1] for d in draws], dtype=float)[:, None]
        mean = e.sum(axis=0) / n.sum(axis=0)
        se = np.sqrt(np.sum((e - mean * n) ** 2, axis=0) / (len(e) * (len(e) - 1))) / n.mean()
        for j, t in enumerate(thresholds):
            exact = rows[(rows["metric"] == metric) & (rows["group"] == g)
                         & (rows["threshold"] == t)]["value"].item()
            assert se[j] > 0 and abs(exact - mean[j]) <= 3 * se[j], (metric, g, t)


def test_drawn_lists_respect_the_composition_and_the_probe_option():
    manifest, faces, subjects, emb, ok = toy_gallery(30, [1, 2, 3], 5)
    images = load_images(faces, manifest)
    labels = manifest.to_pandas().set_index("image_id")["gender"].reindex(
        images.image_id).to_numpy(object)
    comp = Composition("shares", "gender", {"f": 0.3, "m": 0.7})
    design = _DrawDesign(comp, labels, with_probe=True)
    per_subject = pd.Series(images.subject_id).value_counts()
    rng = np.random.default_rng(0)
    for w in (5, 10):
        for _ in range(20):
            drawn = _draw_watchlist(images, rng, w, design)
            who = images.subject_id[drawn]
            assert len(set(who)) == w
            assert pd.Series(labels[drawn]).value_counts().to_dict() == {
                "f": round(0.3 * w), "m": w - round(0.3 * w)}
            assert (per_subject[who] >= 2).all()  # every entry has a further image
    with pytest.raises(ValueError, match="needs 13 people of group 'f' but the data holds 10"):
        _draw_watchlist(images, rng, 13, _DrawDesign(Composition("shares", "gender",
                                                                 {"f": 1.0}), labels, True))


def test_composition_rows_state_shares_and_entries():
    manifest, faces, subjects, emb, ok = toy_gallery(9, [1, 2], 3)
    counts = gallery_counts(faces, manifest, thresholds=[0.5], strata="gender")
    rows = composition_rows(counts, SHARES, size=5, grouping="gender").set_index("group")
    assert rows["n_trials"].to_dict() == {"f": 2, "m": 3}
    assert rows["target"].to_dict() == {"f": 0.4, "m": 0.6}
    assert rows["n_subjects"].to_dict() == {"f": 4, "m": 5}
    uniform = composition_rows(counts, Composition("uniform"), size=9, grouping="gender")
    assert uniform["value"].tolist() == pytest.approx([4 / 9, 5 / 9])


def enumerate_per_person_fnir(counts, emb, threshold, size, k, quotas=None):
    """Wanted people with k further images: found when any capture's own entry reaches t
    and is top-ranked; pooled over every (stratified) list that holds them."""
    scores = oracle_scores(emb)
    entry = entries_of(counts)
    firsts = {}
    for i, s in enumerate(counts.probe_subject):
        if not counts.entry[i]:
            firsts.setdefault(s, []).append(i)
    wanted = [s for s, rows in firsts.items() if len(rows) >= k and s in entry]
    names = sorted(entry)
    if quotas is None:
        lists = list(itertools.combinations(names, size))
    else:
        gender = {s: counts.strata[counts.probe_stratum[i]]
                  for i, s in enumerate(counts.probe_subject)}
        by = {g: [s for s in names if gender[s] == g] for g in ("f", "m")}
        lists = [a + b for a, b in itertools.product(
            itertools.combinations(by["f"], quotas["f"]),
            itertools.combinations(by["m"], quotas["m"]))]
    misses = trials = 0
    for chosen in lists:
        cols = [entry[s] for s in chosen]
        for person in wanted:
            if person not in chosen:
                continue
            trials += 1
            found = False
            for i in firsts[person][:k]:
                own = scores[i, entry[person]]
                found |= own >= threshold and not np.any(scores[i, cols] > own + 1e-9)
            misses += not found
    return misses / trials, len(wanted)


@pytest.mark.parametrize("comp", [Composition("uniform"), SHARES])
def test_per_person_miss_rate_is_any_capture_finding_them_by_enumeration(comp):
    manifest, faces, subjects, emb, ok = toy_gallery(9, [3, 1, 4], 13)
    thresholds = np.array([0.2, 0.5, 0.8])
    counts = gallery_counts(faces, manifest, thresholds=thresholds, captures=2, strata="gender")
    sizes = np.array([1, 3, 6])
    rows = curve_rows(counts, points_at(thresholds), sizes=sizes, images=manifest.to_pandas(),
                      groupings=(), confidence=0.95, interval="wilson-clustered",
                      min_subjects=1, min_trials=1, composition=comp)
    for (j, t), (a, w) in itertools.product(enumerate(thresholds), enumerate(sizes)):
        quotas = None if comp.uniform else dict(zip(counts.strata,
                                                    comp.quotas(counts.strata, sizes)[:, a]))
        want, people = enumerate_per_person_fnir(counts, emb, t, w, 2, quotas)
        got = rows[(rows["metric"] == "fnir_per_person") & (rows["threshold"] == t)
                   & (rows["watchlist_size"] == w)]
        assert got["value"].item() == pytest.approx(want, abs=1e-12), (t, w)
        assert got["n_trials"].item() == people


def test_per_person_miss_rate_on_a_hand_built_table():
    """One wanted person, two captures, a gallery of 4 (own entry + a, b, c), uniform lists.

    Capture 1 scores 0.9 with its own entry and is beaten by a; capture 2 scores 0.7 and
    is beaten by b. At t = 0.8 only capture 1 counts: found when a is off the list. At
    t = 0.6 both count: found when a or b is off the list."""
    people = CaptureCounts(
        captures=2, passer_subject=np.array([], dtype=object),
        passer_stratum=np.zeros(0, dtype=np.int64), passer_at_least=np.zeros((0, 1, 2), int),
        wanted_subject=np.array(["p"], dtype=object), wanted_stratum=np.array([0]),
        subset_sign=np.array([1, 1, -1]), wanted_own=np.array([[0.9, 0.7, 0.7]]),
        wanted_union=np.array([[[1], [1], [2]]]))
    counts = SimpleNamespace(
        gallery_size=4, thresholds=np.array([0.6, 0.8]), probe_id=np.array([], dtype=object),
        probe_subject=np.array([], dtype=object), acquired=np.zeros(0, bool),
        entry=np.zeros(0, bool), has_entry=np.zeros(0, bool), own_score=np.zeros(0),
        stratum_at_least=np.zeros((0, 1, 2), int), stratum_beaten=np.zeros((0, 1), int),
        probe_stratum=np.zeros(0, int), people=people, strata=np.array(["all"]),
        stratum_people=np.array([4]))
    sizes = np.array([1, 2, 3, 4])  # others drawn: 0, 1, 2, 3 of the 3 others
    part = {p.metric: p for p in expected_parts(counts, sizes, Composition("uniform"))}
    miss = part["fnir_per_person"].errors[0]  # (thresholds, sizes)
    # t = 0.6: found = P(a off) + P(b off) - P(both off); with W - 1 of the 3 others listed
    # that is 1 + 1 - 1, 2/3 + 2/3 - 1/3, 1/3 + 1/3 - 0, 0 + 0 - 0 for W = 1, 2, 3, 4.
    np.testing.assert_allclose(miss[0], [0, 0, 1 / 3, 1], atol=1e-12)
    # t = 0.8: P(a off) = 1, 2/3, 1/3, 0.
    np.testing.assert_allclose(miss[1], [0, 1 / 3, 2 / 3, 1], atol=1e-12)
    assert Design.of(counts, Composition("uniform"), sizes).quotas.tolist() == [[1, 2, 3, 4]]


def test_report_reads_the_makeup_and_the_uniform_rates_and_marks_npl_points():
    from audit.metrics.size_projection import project_from_curve
    from audit.report.reading import OperatingPoint
    from audit.report.references import public_references
    from audit.report.size_figures import watchlist_size
    from audit.report.watchlist_size import size_curves

    manifest, faces, subjects, emb, ok = toy_gallery(40, [2, 3], 9)
    counts = gallery_counts(faces, manifest, thresholds=[0.5], strata="gender")
    comp = Composition("shares", "gender", {"f": 0.25, "m": 0.75})
    curve = curve_rows(counts, points_at([0.5]).assign(operating_point="deployment"),
                       sizes=np.array([1, 4, 20]), images=manifest.to_pandas(),
                       groupings=("gender",), confidence=0.95, interval="wilson-clustered",
                       min_subjects=1, min_trials=1, composition=comp)
    curve = pd.concat([curve, composition_rows(counts, comp, size=20, grouping="gender")],
                      ignore_index=True)
    projected = project_from_curve(curve, crowd_size=1000, watchlist_share=0.01,
                                   watchlist_size=20).to_pandas()
    point = OperatingPoint("p", "deployment", 0.5, "deployment")
    overall, by_gender = size_curves(pd.concat([curve, projected], ignore_index=True), point,
                                     ("gender",))
    assert overall.stated_makeup and overall.makeup_grouping == "gender"
    assert [(m.group, m.entries, m.stated) for m in overall.makeup] == [("f", 5, 0.25),
                                                                        ("m", 15, 0.75)]
    stated, uniform = by_gender.at("fpir", "f"), by_gender.at("fpir_uniform", "f")
    want = curve[(curve["metric"] == "fpir_uniform") & (curve["group"] == "f")
                 & (curve["watchlist_size"] == 20)]["value"].item()
    assert uniform.rate.value == pytest.approx(want) and stated.rate.value != uniform.rate.value
    npl = [r for r in public_references() if r.watchlist_points]
    svg = watchlist_size(by_gender, figure_id="w", titles={"fpir": "FPIR", "fnir": "FNIR"},
                         xlabel="W", overall_label="All", deployment_label="W", others=npl,
                         others_label="{label}: another system").markup
    assert "another system" in svg and "NPL" in svg


@pytest.mark.parametrize("value, message", [
    ('{ female = 0.3, male = 0.8 }', "add up to 1"),
    ('"balance"', "must be \"uniform\", \"balanced\" or a table of shares"),
])
def test_spec_refuses_a_bad_composition_in_one_line(tmp_path, value, message):
    from audit.config import SpecError, load_spec

    path = tmp_path / "a.toml"
    path.write_text(f'[dataset]\nname = "lfw"\n[watchlist]\ncomposition = {value}\n')
    with pytest.raises(SpecError, match=message) as caught:
        load_spec(path)
    assert "\n" not in str(caught.value)
    path.write_text('[dataset]\nname = "lfw"\n[watchlist]\ncomposition = { female = 0, male = 1 }\n')
    assert load_spec(path).watchlist.composition == {"female": 0.0, "male": 1.0}
