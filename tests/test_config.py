"""Audit spec: defaults, validation messages, unknown keys, stage hashes."""

from __future__ import annotations

from importlib.resources import files

import pytest

from audit.config import AuditSpec, SpecError, load_spec


def _write(tmp_path, text):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_template_is_valid_and_equals_the_defaults(tmp_path):
    path = _write(tmp_path, files("audit").joinpath("spec_template.toml").read_text())
    spec = load_spec(path)
    assert spec == AuditSpec(dataset={"name": "lfw"})


def test_examples_are_valid():
    from pathlib import Path

    for example in Path(__file__).parents[1].joinpath("examples").glob("*.toml"):
        load_spec(example)


@pytest.mark.parametrize(("text", "match"), [
    ('[dataset]\nname="lfw"\n[policy]\nmax_fpir_ration = 2', "unknown key 'policy.max_fpir_ration'"),
    ('[dataset]\nname="lfw"\n[pipeline]\npreprocess="fast"', "pipeline.preprocess: Input should be"),
    ('[dataset]\nname="lfw"\n[thresholds]\ntarget_fmr=[2]', "thresholds.target_fmr.0"),
    ('[dataset]\nname="lfw"\n[bands]\nyaw_deg=[30, 15]', "strictly increasing"),
    ('[dataset]\nname="lfw"\n[pipeline]\nexecutor="slurm"', "pipeline.executor"),
    ('name = "x"', "dataset: Field required"),
    ("name = ", "not valid TOML"),
])
def test_bad_specs_name_the_key(tmp_path, text, match):
    with pytest.raises(SpecError, match=match):
        load_spec(_write(tmp_path, text))


def test_missing_spec_says_how_to_make_one(tmp_path):
    with pytest.raises(SpecError, match="lfr-audit init"):
        load_spec(tmp_path / "nope.toml")


def test_stage_hashes_change_only_downstream_of_the_edit():
    base = AuditSpec(dataset={"name": "lfw"})
    keys = base.stage_inputs()
    thresholds = AuditSpec(dataset={"name": "lfw"}, thresholds={"deployment": [0.9]},
                           policy={"max_fta": 0.1}, report={"formats": ["html"]})
    assert thresholds.stage_inputs()["scores"] == keys["scores"]
    assert thresholds.stage_inputs()["metrics"] != keys["metrics"]
    model = AuditSpec(dataset={"name": "lfw"}, pipeline={"detector": "opencv"})
    assert model.stage_inputs()["faces"] != keys["faces"]
    speed = AuditSpec(dataset={"name": "lfw"}, pipeline={"workers": 2, "batch_size": 4,
                                                         "executor": "tcp://127.0.0.1:8786"})
    assert speed.stage_inputs() == keys


@pytest.mark.parametrize(("text", "match"), [
    ('[dataset]\nname="lfw"\n[statistics]\nreference_groups={age="18-30"}',
     r"reference_groups names grouping 'age', which is not in \[groupings\] sensitive"),
    ('[dataset]\nname="lfw"\n[statistics]\nreference_groups={gender="unknown"}',
     "label of images without one"),
])
def test_a_reference_group_names_a_sensitive_grouping_and_a_label(tmp_path, text, match):
    with pytest.raises(SpecError, match=match) as caught:
        load_spec(_write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_a_reference_group_of_a_sensitive_grouping_is_kept(tmp_path):
    spec = load_spec(_write(tmp_path, '[dataset]\nname="lfw"\n[groupings]\nsensitive=["gender",'
                                      ' "gender x ethnicity"]\n[statistics]\nreference_groups='
                                      '{"gender x ethnicity"="male x white"}'))
    assert spec.statistics.reference_groups == {"gender x ethnicity": "male x white"}
