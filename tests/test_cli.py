"""The command line: help for every subcommand, and a tiny reproduction that writes its files."""

import csv
import json
import subprocess
import sys

import pytest

from moe_approx.cli import build_parser, main


@pytest.mark.parametrize("sub", [[], *[[c] for c in build_parser()._subparsers._group_actions[0].choices]])
def test_help(sub, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(sub + ["--help"])
    assert exit_info.value.code == 0
    assert "usage: moe-approx" in capsys.readouterr().out


def test_targets_lists_library(capsys):
    assert main(["targets", "--n", "2"]) == 0
    assert "cone" in capsys.readouterr().out


def test_reproduce_tiny_writes_tables_and_figures(tmp_path):
    out = tmp_path / "res"
    proc = subprocess.run([sys.executable, "-m", "moe_approx.cli", "reproduce", "--tiny", "--only", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "exp01_error_vs_experts.csv").open()))
    assert rows and all(float(r["lower"]) <= float(r["proven_bound"]) * (1 + 1e-12) for r in rows)
    assert json.loads((out / "exp01_error_vs_experts.json").read_text())["complete"]
    assert (out / "exp01_error_vs_experts.png").stat().st_size > 1000


def test_unknown_experiment_is_an_error(tmp_path, capsys):
    assert main(["reproduce", "--tiny", "--only", "99", "--out", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err
