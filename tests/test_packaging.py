"""The install story: pyproject and environment.yml agree, the entry points exist, imports stay light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch", "python-lmdb": "lmdb"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    conda = []
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"^\s{2}- ([A-Za-z][\w.-]*)(.*)$", line)
        if m and m.group(1) not in ("python", "pip"):
            conda.append(CONDA_TO_PIP.get(m.group(1), m.group(1)))
    assert {_name(c) for c in conda} == pip_names
    assert "-e .[dev]" in (ROOT / "environment.yml").read_text()


def test_cli_entry_points():
    out = subprocess.run([sys.executable, "-m", "zoedam_lib", "--help"], capture_output=True, text=True, check=True)
    for command in ("synth", "download-nyu", "train", "eval", "predict", "bench"):
        assert command in out.stdout
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["zoedam"] == "zoedam_lib.cli:main"


def test_data_modules_do_not_import_torch():
    code = ("import sys, zoedam_lib.data.synthrooms.generate, zoedam_lib.data.nyu.reader, zoedam_lib.data.sources, "
            "zoedam_lib.data.splits, zoedam_lib.data.folder.check, zoedam_lib.bench.loader; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
