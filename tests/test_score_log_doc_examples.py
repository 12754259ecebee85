"""Every command of docs/score-logs.md runs as written on the files the page gives.

The page's CSV blocks are written under the name the text gives just before
each (`trials.csv`), its TOML blocks under the name on their first line
(``# about.toml``); then each ``lfr-audit`` line of its shell blocks runs,
in order, in that folder, and must succeed. A command whose input the page
does not give (the k-fold example's LFW pairs file) is named here, so that a
new one cannot be skipped silently.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app

PAGE = Path(__file__).parents[1] / "docs" / "score-logs.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
#: Inputs the page names but cannot give: a k-fold example needs LFW's 6,000 pairs.
NOT_GIVEN = {"pairs.csv"}
pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning",
                                        "ignore::UserWarning")


def page_files_and_commands(text: str) -> tuple[dict[str, str], list[str]]:
    files, commands, end = {}, [], 0
    for block in BLOCK.finditer(text):
        kind, body = block.groups()
        before = text[end:block.start()]
        end = block.end()
        if kind == "csv":
            names = re.findall(r"`([\w.-]+\.csv)`", before)
            assert names, f"no file name before the CSV block {body[:40]!r}"
            files[names[-1]] = body
        elif kind == "toml":
            files[re.match(r"# ([\w.-]+\.toml)", body).group(1)] = body
        elif kind == "sh":
            commands += [line.split(" #")[0].strip() for line in body.splitlines()
                         if line.startswith("lfr-audit ")]
    return files, commands


def test_every_command_of_the_score_log_page_runs_on_its_files(tmp_path, monkeypatch):
    files, commands = page_files_and_commands(PAGE.read_text())
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    monkeypatch.chdir(tmp_path)
    runner, skipped, ran = CliRunner(), set(), 0
    for command in commands:
        words = shlex.split(command)[1:]
        inputs = {w for w in words if w.endswith((".csv", ".toml"))}
        if inputs - set(files):
            skipped |= inputs - set(files)
            continue
        result = runner.invoke(app, words)
        assert result.exit_code == 0, f"{command}\n{result.output}"
        ran += 1
    assert skipped == NOT_GIVEN
    assert ran >= 8 and {"trials.csv", "searches.csv", "captures.csv", "about.toml"} <= set(files)
