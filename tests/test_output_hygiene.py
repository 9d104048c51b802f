"""What the library prints into a notebook: no live bars in a kernel, one line per epoch, no IProgress warning,
no machine's absolute paths."""

from __future__ import annotations

import io
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import RampData, make_trainer, tiny_zoedam

from zoedam_lib.utils import progress
from zoedam_lib.utils.paths import display_path, project_root

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_kernel(monkeypatch):
    """Pretend to run inside a Jupyter kernel: IPython's shell carries a kernel."""
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def test_in_notebook_needs_a_kernel_not_just_ipython(monkeypatch, in_kernel):
    assert progress.in_notebook()
    console = types.SimpleNamespace()  # the terminal IPython shell has no kernel
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: console))
    assert not progress.in_notebook()
    monkeypatch.delitem(sys.modules, "IPython")
    assert not progress.in_notebook()


def test_bars_draw_in_a_terminal_and_stay_silent_in_a_kernel(monkeypatch):
    out = io.StringIO()
    list(progress.tqdm(range(20), file=out, mininterval=0))
    assert "20/20" in out.getvalue()
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    out = io.StringIO()
    list(progress.tqdm(range(20), file=out, mininterval=0))
    assert out.getvalue() == ""


def test_training_in_a_kernel_prints_one_line_per_epoch_and_evaluation_nothing(tmp_path, monkeypatch, capsys,
                                                                                 one_thread):
    from zoedam_lib.evaluation.evaluate import evaluate

    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    trainer = make_trainer(tmp_path)
    trainer.progress = True
    trainer.fit()
    evaluate(tiny_zoedam(img_size=(28, 42)), RampData(4), flip_tta=False)
    out, err = capsys.readouterr()
    assert err == ""
    assert [line.split()[0] for line in out.splitlines()] == ["epoch=1", "epoch=2"]


def test_importing_the_library_keeps_the_iprogress_warning_out_of_a_kernel():
    """timm → huggingface_hub → tqdm.auto warns "IProgress not found" in a kernel without ipywidgets; a
    kernel is faked in a fresh interpreter (the warning fires once per process), with and without zoedam_lib."""
    fake_kernel = ("import sys, types, warnings; warnings.simplefilter('always'); "
                   "sys.modules['ipykernel.zmqshell'] = types.ModuleType('ipykernel.zmqshell'); import IPython; ")
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    plain = subprocess.run([sys.executable, "-c", fake_kernel + "import timm"], capture_output=True, text=True,
                           env=env, timeout=300)
    ours = subprocess.run([sys.executable, "-c", fake_kernel + "import zoedam_lib.models.layers.vit"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert ours.returncode == 0, ours.stderr[-2000:]
    assert "IProgress not found" in plain.stderr  # the fault the library guards against is real here
    assert "IProgress" not in ours.stderr


def test_display_path_shortens_what_it_can(tmp_path, monkeypatch):
    root = project_root(ROOT)
    monkeypatch.chdir(ROOT / "notebooks")  # where Jupyter runs a notebook
    assert display_path(root / "runs" / "demo" / "results" / "a.json") == "runs/demo/results/a.json"
    assert display_path("runs/demo") == "runs/demo"  # a relative path stays as given
    assert display_path("LiheYoung/depth_anything_vits14") == "LiheYoung/depth_anything_vits14"  # a Hub id
    monkeypatch.setenv("HOME", str(tmp_path))
    assert display_path(tmp_path / ".cache" / "w.pth") == "~/.cache/w.pth"
    outside = Path("/proc/self")
    assert display_path(outside) == str(outside.resolve())


def test_the_densenet_download_is_announced_with_a_short_path(tmp_path, monkeypatch, capsys):
    """torch.hub prints 'Downloading: <url> to <absolute cache path>' on stdout; ours names ~/... instead."""
    from urllib.error import URLError

    import torch

    from zoedam_lib.models import densedepth as dd

    def hub_download(**_):
        print(f'Downloading: "https://download.pytorch.org/x.pth" to {tmp_path}/.cache/torch/hub/checkpoints/x.pth')
        raise URLError("offline")

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / ".cache" / "torch" / "hub"))
    monkeypatch.setattr(dd, "densenet169", hub_download)
    with pytest.raises(URLError):
        dd.imagenet_densenet169_features()
    out = capsys.readouterr().out
    assert out.startswith("downloading torchvision's ImageNet DenseNet-169 weights to ~/.cache/torch/hub/checkpoints/")
    assert str(tmp_path) not in out
