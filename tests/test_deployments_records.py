"""Deployment records in: schema, column mapping and refusals named by row."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from audit.deployments.records import RecordsError, parse_mapping, read_alerts, read_records
from audit.deployments.references import read_crowd, read_lab

HEADER = "deployment_id,date,threshold,faces_scanned,alerts,confirmed_true,confirmed_false,unresolved\n"


def write(tmp_path, text, name="records.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_counts_dates_and_empty_fields(tmp_path):
    path = write(tmp_path, HEADER + "a,2022-01-28,0.6,12120,11,,1,\nb,2018-06,,,42,8,14,20\n")
    a, b = read_records(path)
    assert (a.faces, a.alerts, a.confirmed_true, a.confirmed_false, a.not_confirmed) == (12120, 11, None, 1, 10)
    assert (a.row, b.row, a.date, b.date, b.period) == (2, 3, date(2022, 1, 28), date(2018, 6, 1), "2018-06")
    assert b.faces is None and b.threshold is None


@pytest.mark.parametrize(("line", "reason"), [
    ("x,2020-01-01,0.6,100,5,4,3,", "confirmed true + false + unresolved (7) > alerts (5)"),
    ("x,2020-01-01,0.6,100,5,1,1,1", "confirmed true + false + unresolved (3) != alerts (5)"),
    ("x,2020-01-01,0.6,10,50,,,", "alerts (50) > faces_scanned (10)"),
    ("x,2020-01-01,0.6,100,-1,,,", "alerts '-1' is not a count"),
    ("x,2020-01-01,0.6,100,2.5,,,", "alerts '2.5' is not a count"),
    ("x,2020-13-01,0.6,100,2,,,", "date '2020-13-01' is not a date"),
    ("x,2020-01-01,high,100,2,,,", "threshold 'high' is not a number"),
    (",2020-01-01,0.6,100,2,,,", "deployment_id is empty"),
])
def test_impossible_rows_are_refused_with_row_number_and_reason(tmp_path, line, reason):
    path = write(tmp_path, HEADER + "ok,2020-01-01,0.6,100,2,1,1,0\n" + line + "\n")
    with pytest.raises(RecordsError, match="1 row") as caught:
        read_records(path)
    assert "row 3 (" in str(caught.value) and reason in str(caught.value)


def test_every_refused_row_is_listed_and_ids_must_be_unique(tmp_path):
    path = write(tmp_path, HEADER + "a,,,,5,6,,\nb,,,,1,,,\na,,,,1,,,\n")
    with pytest.raises(RecordsError, match="2 row") as caught:
        read_records(path)
    text = str(caught.value)
    assert "row 2 (a)" in text and "row 4 (a): deployment_id repeats row 2" in text


def test_other_column_names_map_by_synonym_or_option(tmp_path):
    path = write(tmp_path, "Deployment,Faces seen,True Alerts,False Alerts,Total alerts,Site\n"
                           "m1,\"1,200\",3,1,4,Oxford Circus\n")
    (r,) = read_records(path, parse_mapping(["Site=location"], ("location",)))
    assert (r.deployment_id, r.faces_scanned, r.confirmed_true, r.confirmed_false, r.alerts,
            r.location) == ("m1", 1200, 3, 1, 4, "Oxford Circus")
    with pytest.raises(RecordsError, match="is not NAME=COLUMN"):
        parse_mapping(["Site"], ("location",))
    with pytest.raises(RecordsError, match="no deployment_id column"):
        read_records(write(tmp_path, "name,alerts\nx,1\n", "other.csv"))


def test_parquet_rows_are_numbered_from_one(tmp_path):
    path = tmp_path / "records.parquet"
    pd.DataFrame({"deployment_id": ["a", "b"], "alerts": [3, 2], "confirmed_false": [1.0, 5.0]}).to_parquet(path)
    with pytest.raises(RecordsError, match=r"row 2 \(b\)"):
        read_records(path)


def test_unknown_file_type_and_missing_file_say_what_to_give(tmp_path):
    with pytest.raises(RecordsError, match="give a .csv or .parquet"):
        read_records(write(tmp_path, "x", "records.txt"))
    with pytest.raises(RecordsError, match="not found"):
        read_records(tmp_path / "nope.csv")


def test_alert_rows_are_checked_against_the_records(tmp_path):
    records = read_records(write(tmp_path, HEADER + "a,,,,3,1,2,0\n"))
    ok = write(tmp_path, "deployment_id,outcome,group\na,false,x\na,False,\n", "alerts.csv")
    assert [(x.outcome, x.group, x.row) for x in read_alerts(ok, records)] == [("false", "x", 2), ("false", "", 3)]
    bad = write(tmp_path, "deployment_id,outcome,group\nb,false,x\na,maybe,x\na,false,x\na,false,x\na,false,y\n",
                "bad.csv")
    with pytest.raises(RecordsError) as caught:
        read_alerts(bad, records)
    text = str(caught.value)
    assert "row 2: deployment_id 'b' is not in the records" in text
    assert "row 3: outcome 'maybe'" in text
    assert "deployment a: 3 false alert rows but confirmed_false is 2" in text


def test_crowd_shares_from_a_range_or_a_count(tmp_path):
    path = write(tmp_path, "group,share_low,share_high,observed,observed_of,source\n"
                           "a,0.2,0.6,,,census\nb,,,30,100,count\nc,0.3,,,,\n", "crowd.csv")
    a, b, c = read_crowd(path)
    assert (a.low, a.high, a.source) == (0.2, 0.6, "census")
    assert b.low == pytest.approx(0.2124, abs=1e-4) and (c.low, c.high) == (0.3, 0.3)
    bad = write(tmp_path, "group,share_low,share_high\na,0.7,0.2\nb,,\n", "bad.csv")
    with pytest.raises(RecordsError, match="2 row") as caught:
        read_crowd(bad)
    assert "row 2: shares 0.7..0.2" in str(caught.value)


def test_lab_rows_from_counts_or_a_published_rate(tmp_path):
    path = write(tmp_path, "label,threshold,watchlist_size,false_alerts,probes,fpir\n"
                           "run,0.6,1000,3,1000,\npaper,0.6,10000,,,0.000166667\n", "lab.csv")
    run, paper = read_lab(path)
    assert run.origin == "counts" and run.fpir.value == 0.003 and run.fpir.low > 0
    assert paper.origin == "published" and math.isnan(paper.fpir.low)
    bad = write(tmp_path, "label,false_alerts,probes,fpir,fpir_low\nx,5,2,,\ny,,,0.1,0.2\nz,,,,\n", "bad.csv")
    with pytest.raises(RecordsError, match="3 row"):
        read_lab(bad)


def test_lab_fpir_read_from_an_lfr_audit_metrics_table(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    pd.DataFrame({
        "metric": ["fpir", "fpir", "fpir", "fnir"], "grouping": ["overall", "gender", "overall", "overall"],
        "group": ["all", "female", "all", "all"], "threshold": [0.6, 0.6, 0.7, 0.6],
        "value": [0.004, 0.006, 0.001, 0.2], "ci_low": [0.003, 0.004, 0.0005, 0.1],
        "ci_high": [0.0055, 0.009, 0.002, 0.3], "n_trials": [5000, 2500, 5000, 100],
        "n_errors": [20, 15, 5, 20], "statistic": ["rate"] * 4,
    }).to_parquet(run / "metrics.parquet")
    path = write(tmp_path, "label,threshold,metrics\nours,0.6,runs/r1\n", "lab.csv")
    (entry,) = read_lab(path)
    assert entry.origin == "lfr-audit run"
    assert (entry.fpir.count, entry.fpir.base, entry.fpir.value, entry.fpir.low) == (20, 5000, 0.004, 0.003)
    missing = write(tmp_path, "label,threshold,metrics\nours,0.65,runs/r1\nx,0.6,runs/none\n", "bad.csv")
    with pytest.raises(RecordsError, match="2 row") as caught:
        read_lab(missing)
    assert "no overall FPIR at threshold 0.65" in str(caught.value)
