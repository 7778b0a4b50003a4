"""An installed wheel reproduces the paper's curves: build the sdist and the wheel from it, check
them with twine, install the wheel (not editable) into a fresh virtual environment and run
``moe-approx reproduce --tiny --only 5`` from a folder outside the source tree.

The fresh environment sees this environment's dependencies through a plain path line in a .pth
file (no download, no index); the path line does not run the editable install's import hook,
so ``moe_approx`` can only come from the wheel, which the test checks."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd, cwd):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_wheel_in_fresh_venv_reproduces(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("twine")
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(dist.iterdir())
    _run(sys.executable, "-m", "twine", "check", "--strict", *wheels, *sdists, cwd=tmp_path)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_dev_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheels[0],
         cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    where = _run(python, "-c", "import moe_approx.reproduce as r; print(r.__file__)", cwd=work).strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where  # the wheel's copy, not the source tree
    _run(venv / "bin" / "moe-approx", "reproduce", "--tiny", "--only", "5", "--out", "out", cwd=work)
    for suffix in (".csv", ".json", ".pdf", ".png"):
        path = work / "out" / f"exp05_vc_dimension{suffix}"
        assert path.exists() and path.stat().st_size > 0, path
