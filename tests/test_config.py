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
    ('[dataset]\nname="lfw"\n[pipeline]\nmodel="dlib"', "pipeline.model: Input should be 'Dlib'"),
    ('[dataset]\nname="lfw"\n[pipeline]\ndetector="Dlib"', "pipeline.detector: Input should be"),
    ('[dataset]\nname="lfw"\n[matching]\ndistance="manhattan"', "'euclidean_l2' or 'angular'"),
    ('name = "x"', "dataset: Field required"),
    ("name = ", "not valid TOML"),
    # strict values, checked before any work
    ('[dataset]\nname="lfw"\n[thresholds]\ndeployment=["0.6"]',
     "thresholds.deployment.0: Input should be a valid number"),
    ('[dataset]\nname="lfw"\n[thresholds]\ndeployment=[nan]',
     "thresholds.deployment.0: Input should be a finite number"),
    ('[dataset]\nname="lfw"\n[thresholds]\ndeployment=[inf]', "finite number"),
    ('[dataset]\nname="lfw"\n[policy]\nmax_fnmr=nan', "policy.max_fnmr: Input should be a finite"),
    ('[dataset]\nname="lfw"\n[report]\nformats=[]', "report.formats: List should have at least 1"),
    ('[dataset]\nname="lfw"\n[report]\ninclude_faces="yes"', "report.include_faces: Input should"),
    ('[dataset]\nname="lfw"\n[watchlist]\nsize=100.0', "watchlist.size: Input should be a valid"),
    ('seed="1"\n[dataset]\nname="lfw"', "seed: Input should be a valid integer"),
    # a threshold on another distance's scale
    ('[dataset]\nname="lfw"\n[matching]\ndistance="euclidean"\n[thresholds]\ndeployment=[0.6]',
     r"thresholds.deployment \[0.6\] lies outside the range \[-inf, 0.0\] of similarity scores "
     "with distance = 'euclidean'"),
    ('[dataset]\nname="lfw"\n[matching]\ndistance="euclidean_l2"\n[thresholds]\n'
     'deployment=[-0.5, -2.5]', r"\[-2.5\] lies outside the range \[-2.0, 0.0\]"),
    ('[dataset]\nname="lfw"\n[thresholds]\ndeployment=[1.5]', r"range \[-1.0, 1.0\]"),
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


def test_every_listed_choice_is_accepted_by_the_spec():
    """The spec's lists are the ones in audit.choices, which the CLI and stages read."""
    from audit import choices

    for model in choices.MODELS:
        assert AuditSpec(dataset={"name": "x"}, pipeline={"model": model}).pipeline.model == model
    for detector in choices.DETECTOR_NAMES:
        assert AuditSpec(dataset={"name": "x"}, pipeline={"detector": detector})
    for distance in choices.DISTANCES:  # 'angular' was once rejected here, accepted elsewhere
        assert AuditSpec(dataset={"name": "x"}, matching={"distance": distance})
    for preprocess in choices.PREPROCESS:
        assert AuditSpec(dataset={"name": "x"}, pipeline={"preprocess": preprocess})


def test_executor_is_parsed_once_into_a_typed_choice():
    spec = AuditSpec(dataset={"name": "lfw"},
                     pipeline={"workers": 3, "executor": " tcp://10.0.0.5:8786 "})
    choice = spec.pipeline.executor_choice
    assert (choice.kind, choice.workers, choice.address) == ("dask", 3, "tcp://10.0.0.5:8786")
    assert spec.model_dump(mode="json")["pipeline"]["executor"] == "tcp://10.0.0.5:8786"
    assert spec.pipeline.model_dump()["executor"] == "tcp://10.0.0.5:8786"


def test_validating_a_spec_loads_neither_opencv_nor_deepface():
    """A fresh interpreter: importing audit.config and loading every example spec
    must not import cv2, deepface, TensorFlow or Dask (spec checks stay instant)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[1]
    code = (
        "import sys; from pathlib import Path; import audit.config as c\n"
        "for p in sorted(Path('examples').glob('*.toml')): c.load_spec(p)\n"
        "c.AuditSpec(dataset={'name': 'lfw'}, pipeline={'executor': 'dask-local'})\n"
        "print(sorted(m for m in ('cv2', 'deepface', 'tensorflow', 'distributed', 'dask')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_integers_are_accepted_where_numbers_belong(tmp_path):
    spec = load_spec(_write(tmp_path, '[dataset]\nname="lfw"\n[thresholds]\ndeployment=[1]'))
    assert spec.thresholds.deployment == [1.0]


def test_paths_are_relative_to_the_spec_file(tmp_path, monkeypatch):
    folder = tmp_path / "audits"
    folder.mkdir()
    path = folder / "spec.toml"
    path.write_text('data_dir = "data"\n[dataset]\nname = "lists/captures.csv"\n')
    monkeypatch.chdir(tmp_path)
    spec = load_spec(path.relative_to(tmp_path))
    assert spec.data_dir == "audits/data"
    assert spec.dataset.name == "audits/lists/captures.csv"
    builtin = load_spec(_write(tmp_path, '[dataset]\nname = "lfw"\n'))
    assert builtin.dataset.name == "lfw"
