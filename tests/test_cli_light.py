"""Commands that need no deepface stay light: a bad score log is a user error
(one line, exit 2) even where OpenCV and deepface cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
#: Runs the CLI with cv2, deepface and TensorFlow made unimportable.
BLOCKED = (
    "import sys\n"
    "for name in ('cv2', 'deepface', 'tensorflow'):\n"
    "    sys.modules[name] = None\n"
    "from audit.cli import app\n"
    "app(sys.argv[1:])\n"
)


def test_a_bad_score_log_is_one_line_and_exit_2_without_opencv(tmp_path):
    trials = tmp_path / "trials.csv"
    trials.write_text("this is,not a score log\n1,2\n")
    attributes = tmp_path / "attributes.csv"
    attributes.write_text("image_id,subject_id,gender\na,s1,female\n")
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, "metrics", str(trials), "--attributes", str(attributes),
         "--out", str(tmp_path / "metrics.parquet")],
        cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error:"), done.stderr


def test_a_bad_executor_override_is_one_line_and_exit_2(tmp_path):
    from typer.testing import CliRunner

    from audit.cli import EXIT_USAGE, app

    spec = tmp_path / "audit.toml"
    spec.write_text('[dataset]\nname = "lfw"\n')
    result = CliRunner().invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs"),
                                      "--executor", "slurm"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "executor 'slurm' is not one of" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _small_log(tmp_path: Path) -> list[str]:
    """A valid 1:1 score log of six people and its attributes: ``metrics`` arguments."""
    trials = tmp_path / "trials.csv"
    rows = ["trial_kind,probe_subject,reference_subject,score,mated"]
    people = [f"p{i}" for i in range(6)]
    for i, a in enumerate(people):
        rows.append(f"verification,{a},{a},{0.8 + i / 100},true")
        rows += [f"verification,{a},{b},{0.1 + j / 100},false" for j, b in enumerate(people)
                 if b != a]
    trials.write_text("\n".join(rows) + "\n")
    attributes = tmp_path / "attributes.csv"
    attributes.write_text("subject_id,gender\n" + "".join(
        f"{p},{'female' if i % 2 else 'male'}\n" for i, p in enumerate(people)))
    return ["metrics", str(trials), "--attributes", str(attributes), "--grouping", "gender",
            "--threshold", "0.5", "--out", str(tmp_path / "m.parquet")]


def test_metrics_on_a_score_log_loads_no_plotting_or_pdf_library(tmp_path):
    """Without --report, ``metrics`` draws nothing: matplotlib and WeasyPrint made
    unimportable, it still writes its table (both cost seconds to import)."""
    blocked = BLOCKED.replace("('cv2', 'deepface', 'tensorflow')",
                              "('cv2', 'deepface', 'tensorflow', 'matplotlib', 'weasyprint')")
    done = subprocess.run([sys.executable, "-c", blocked, *_small_log(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "m.parquet").is_file()


#: Runs ``metrics``, then prints OpenBLAS's thread counts and whether the variable is left.
THREADS = (
    "import os, sys\n"
    "from audit.cli import app\n"
    "try:\n"
    "    app(sys.argv[1:])\n"
    "except SystemExit as done:\n"
    "    assert not done.code, done.code\n"
    "from threadpoolctl import threadpool_info\n"
    "print(sorted({p['num_threads'] for p in threadpool_info() if p['internal_api'] == 'openblas'}),"
    " 'OPENBLAS_NUM_THREADS' in os.environ)\n"
)


def test_metrics_loads_openblas_with_one_thread_and_leaves_no_variable(tmp_path):
    """NumPy's and SciPy's OpenBLAS start with one thread under ``metrics`` (their workers
    cost CPU and do no work there); the variable is gone after, and a count the user set
    is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", THREADS, *_small_log(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[1] False"
    done = subprocess.run([sys.executable, "-c", THREADS, *_small_log(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**env, "OPENBLAS_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[2] True"
