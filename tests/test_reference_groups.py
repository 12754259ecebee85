"""Reference groups: checked against the dataset's labels before any expensive work."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from audit.reference_groups import ReferenceGroupError, check_reference_groups, dataset_groups

LABELS = pd.DataFrame({
    "gender": ["female", "male", "male", None],
    "ethnicity": ["asian", "white", "black", "white"],
})


def test_groups_of_an_intersection_are_the_joined_labels_missing_ones_unknown():
    assert dataset_groups("gender", LABELS) == ["female", "male", "unknown"]
    assert dataset_groups("gender x ethnicity", LABELS) == [
        "female x asian", "male x black", "male x white", "unknown x white"]
    assert dataset_groups("age", LABELS) == []


@pytest.mark.parametrize("references", [{}, {"gender": "male"},
                                        {"gender x ethnicity": "female x asian"}])
def test_a_present_group_passes(references):
    check_reference_groups(references, pa.Table.from_pandas(LABELS))


def test_an_absent_group_is_a_one_line_error_naming_the_groups():
    with pytest.raises(ReferenceGroupError) as caught:
        check_reference_groups({"gender x ethnicity": "female x white"}, LABELS)
    message = str(caught.value)
    assert "\n" not in message
    assert "'female x white'" in message and "'male x black'" in message
