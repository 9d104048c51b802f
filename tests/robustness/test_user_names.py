"""Names a user gives and files a user made: a results name with a path in it, zero-shot sets of one name,
``predict --out`` pointing at the photos' own folder beside their ground truth, names beginning with ``-``,
intrinsics that fit one photo of a folder but not another, and a full disk that names no file.

Nothing is written outside its folder, nothing the run did not write is replaced, and each refusal says
what to do.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import folder_files, last_error, random_photo, tiny_zoedam
from PIL import Image

from zoedam_lib import save_model
from zoedam_lib.cli import main
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.experiments.context import zero_shot_sets
from zoedam_lib.io.inputs import assign_names
from zoedam_lib.utils.atomic import atomic_open
from zoedam_lib.utils.errors import ConfigError, OutputError
from zoedam_lib.utils.names import inside, safe_name, safe_stem

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=12, size=(30, 40), n_unlabeled=0, workers=1,
                               progress=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_model(tiny_zoedam(), tmp_path_factory.mktemp("ckpt") / "tiny")


# --------------------------------------------------------------------------- results names


@pytest.mark.slow
def test_eval_name_with_a_path_stays_inside_results_and_spares_the_checkpoint(tiny_data, checkpoint, tmp_path, capsys):
    """``--name ../../x/escaped`` wrote ``<out>/../x/escaped.json``; ``--name ../checkpoints/average/config``
    replaced that checkpoint's config.json. Both become plain stems inside ``results/``, said on a line."""
    out = tmp_path / "run"
    users = out / "checkpoints" / "average"
    users.mkdir(parents=True)
    (users / "config.json").write_text('{"model": "average"}\n')
    before = folder_files(users)
    for name, stem in (("../../x/escaped", "escaped"), ("../checkpoints/average/config", "config")):
        assert main(["eval", "--checkpoint", str(checkpoint), "--data", str(tiny_data), "--out", str(out),
                     "--device", "cpu", "--preset", "cpu", "--name", name, "--zero-shot"]) == 0
        assert f"the results are named {stem!r}" in capsys.readouterr().out
        assert (out / "results" / f"{stem}.json").is_file() and (out / "results" / f"{stem}_per_image.csv").is_file()
    assert folder_files(users) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing beside --out
    assert not (out / "x").exists()


def test_every_user_given_name_becomes_a_safe_stem_and_writes_are_proven_inside(tmp_path):
    """One sanitiser for results keys, lock names, zero-shot sets and predict's outputs; no leading ``-`` (an
    output ``-rf_depth.png`` reads as options to ``rm``), dot or separator; ``inside`` refuses what escapes."""
    assert safe_name("../../x/escaped") == "escaped" and safe_name("a\\b\\c") == "c"
    assert safe_name("-rf") == "rf" and safe_name("--.-x") == "x" and safe_name("..", "model") == "model"
    assert safe_stem("-rf.jpg") == "rf" and safe_stem("--help.png") == "help"
    assert assign_names([Path("-x.jpg"), Path("x.png")]) == ["x", "x-1"]
    assert inside(tmp_path, "a.json") == tmp_path / "a.json"
    (tmp_path / "link").symlink_to(tmp_path.parent)
    for escaping in ("../a.json", "link/a.json", ".", "/etc/passwd"):
        with pytest.raises(OutputError, match="outside the folder"):
            inside(tmp_path, escaping)


def test_zero_shot_names_must_be_unique_and_not_test(tiny_data, tmp_path):
    """``--zero-shot a/zs.mat b/zs.mat b/test.mat`` dropped one set silently and printed test.mat's AbsRel as the
    test split's row (overwriting its CSV): a clash or a reserved name is refused, naming both files."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(tiny_data, tmp_path / folder / "zs.mat")
    shutil.copy(tiny_data, tmp_path / "b" / "test.mat")
    shutil.copy(tiny_data, tmp_path / "b" / "ZS.mat")
    a, b, test, upper = (str(tmp_path / p) for p in ("a/zs.mat", "b/zs.mat", "b/test.mat", "b/ZS.mat"))
    with pytest.raises(ConfigError, match=r"--zero-shot .*a/zs.mat and .*b/zs.mat would both be named 'zs'"):
        zero_shot_sets([a, b])
    with pytest.raises(ConfigError, match="would both be named 'ZS'"):
        zero_shot_sets([a, upper])  # one CSV on a case-insensitive disk
    with pytest.raises(ConfigError, match="'test' is taken by the run's own results"):
        zero_shot_sets([test])
    with pytest.raises(ConfigError, match="'zeroshot_tele_estimated' is taken"):
        shutil.copy(tiny_data, tmp_path / "zeroshot_tele_estimated.mat")
        zero_shot_sets([str(tmp_path / "zeroshot_tele_estimated.mat")])
    shutil.copy(tiny_data, tmp_path / "b" / "zs2.mat")
    assert list(zero_shot_sets([a, str(tmp_path / "b" / "zs2.mat")])) == ["zs", "zs2"]


# --------------------------------------------------------------------------- predict beside the user's files


def test_predict_into_the_photos_folder_keeps_the_users_files(checkpoint, tmp_path, capsys):
    """``scene/0001.jpg`` beside its ground truth ``scene/0001_depth.png`` and a user's ``room_color.png``, with
    ``--out scene``: was overwritten, exit 0. Now those stems get ``-1`` (said on a line); a second run replaces
    only its own outputs."""
    scene = tmp_path / "scene"
    scene.mkdir()
    rng = np.random.default_rng(0)
    random_photo(rng, 12, 16).save(scene / "0001.jpg")
    random_photo(rng, 12, 16).save(scene / "room.jpg")
    Image.fromarray(np.full((12, 16), 2500, np.uint16)).save(scene / "0001_depth.png")
    random_photo(rng, 12, 16).save(scene / "room_color.png")
    users = {name: (scene / name).read_bytes() for name in ("0001_depth.png", "room_color.png")}
    args = ["predict", str(scene / "0001.jpg"), str(scene / "room.jpg"), "--checkpoint", str(checkpoint),
            "--out", str(scene), "--device", "cpu"]
    for _ in range(2):
        assert main(args) == 0
        out = capsys.readouterr().out
        assert f"keeping {scene / '0001_depth.png'}: it was not written by zoedam" in out
        assert f"keeping {scene / 'room_color.png'}" in out
        assert {name: (scene / name).read_bytes() for name in users} == users
        assert sorted(p.name for p in scene.iterdir()) == sorted(
            ["0001.jpg", "room.jpg", *users, "0001-1_depth.png", "0001-1_color.png", "room-1_depth.png",
             "room-1_color.png"])


def test_predict_folder_into_itself_says_the_output_folder_is_left_out(checkpoint, tmp_path, capsys):
    """``predict DIR --out DIR`` blamed "folders without image files"; the images are there, inside --out."""
    random_photo(np.random.default_rng(1), 8, 8).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path), "--checkpoint", str(checkpoint), "--out", str(tmp_path),
                 "--device", "cpu"]) == 2
    last = last_error(capsys)
    assert "its 1 image(s) lie inside the output folder" in last and "pass another --out" in last, last
    assert "folders without image files" not in last


def test_intrinsics_that_fit_one_photo_skip_only_the_other(checkpoint, tmp_path, capsys):
    """``--intrinsics`` of a 40×30 photo on a folder that also holds a 4×3 one aborted the run (the pending
    images lost, no summary): the misfit is skipped with its reason, the others are written, exit 0; when it
    fits none, exit 2 saying so."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(2)
    random_photo(rng, 30, 40).save(photos / "a_big.png")
    random_photo(rng, 3, 4).save(photos / "b_small.png")
    random_photo(rng, 30, 40).save(photos / "c_big.png")
    args = ["predict", str(photos), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"), "--device",
            "cpu", "--ply", "--batch-size", "4", "--intrinsics", "40", "40", "19.5", "14.5"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert f"done 2 images, skipped 1 ({photos / 'b_small.png'}: --intrinsics do not fit this image)" in captured.out
    assert f"skipped {photos / 'b_small.png'}: --intrinsics for b_small.png: " in captured.err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ply")) == ["a_big.ply", "c_big.ply"]
    assert main([*args[:1], str(photos / "b_small.png"), *args[2:]]) == 2
    assert "the given --intrinsics fit none of the 1 images" in last_error(capsys)


# --------------------------------------------------------------------------- a full disk


def test_a_full_disk_names_the_file_it_could_not_write(checkpoint, tmp_path, monkeypatch, capsys):
    """A write that fails in ``f.write`` (ENOSPC) carries no file name: the error read "cannot write : No space
    left on device". The atomic writers name their target (not the hidden temporary)."""
    target = tmp_path / "r.json"
    with pytest.raises(OSError) as caught, atomic_open(target) as f:
        f.write("{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert caught.value.filename == str(target) and not target.exists() and not list(tmp_path.iterdir())

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    random_photo(np.random.default_rng(3), 8, 8).save(tmp_path / "p.png")
    monkeypatch.setattr(Image.Image, "save", full)
    assert main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--device", "cpu"]) == 2
    assert last_error(capsys).startswith(f"error: cannot write {tmp_path / 'out' / 'p_depth.png'}: No space left")


# --------------------------------------------------------------------------- synth into a user's dataset


def test_synth_folder_into_an_existing_dataset_is_refused(tmp_path, capsys):
    """``synth --format folder --out my_dataset`` overwrote the user's images, depths and dataset.json and mixed
    synthetic pairs in. A non-empty folder that is not a synth output of the same settings is refused, untouched;
    an empty one, or a re-render of the same settings, works."""
    from folder_helpers import make_folder

    users = make_folder(tmp_path / "mine", n=3, spec={"name": "mine", "depth_unit": "mm"})
    before = folder_files(users)
    synth = ["synth", "--domain", "zeroshot_wide", "--n", "2", "--size", "12x16", "--format", "folder", "--out"]
    assert main([*synth, str(users)]) == 2
    last = last_error(capsys)
    assert f"--out {users} is not empty and not a synth output (it holds dataset.json, depth, images)" in last, last
    assert "Pass a new or empty folder" in last and folder_files(users) == before
    fresh = tmp_path / "fresh"
    assert main([*synth, str(fresh)]) == 0 and main([*synth, str(fresh)]) == 0  # the same settings again
    assert sorted(p.name for p in (fresh / "images").iterdir()) == ["00000.png", "00001.png"]
    assert main([*synth[:4], "3", *synth[5:], str(fresh)]) == 2
    assert "a synth output of other settings ({'domain': 'zeroshot_wide', 'n': 2," in last_error(capsys)


def test_per_image_csvs_of_two_keys_never_share_a_name(tmp_path: Path) -> None:
    """Key ``m`` evaluated on set ``x`` and key ``m_x``'s test split (were: both ``m_x_per_image.csv``, the later
    write silently replacing the other's rows): ``m@x_per_image.csv`` and ``m_x_per_image.csv``; each JSON points to
    its own rows, whichever is written last; a key or set holding ``@`` and a zero-shot set named ``test`` are
    refused; a JSON naming an old-style CSV still reads."""
    import json

    from zoedam_lib.evaluation.evaluate import EvalResult
    from zoedam_lib.evaluation.metrics import METRIC_KEYS
    from zoedam_lib.experiments.results import per_image_csv_name, per_image_rows, write_result

    def ev(value: float, n: int) -> EvalResult:
        return EvalResult(dict.fromkeys(METRIC_KEYS, value), [{"index": i, "abs_rel": value} for i in range(n)])

    provenance = {"data": "d", "data_kind": "synthrooms", "preset": "cpu", "split": "paper", "seed": 0}
    m = json.loads(write_result(tmp_path, "m", provenance, ev(0.1, 2), {"x": ev(0.2, 3)}).read_text())
    m_x = json.loads(write_result(tmp_path, "m_x", provenance, ev(0.3, 4)).read_text())
    assert m["zero_shot"]["x"]["per_image"] == "m@x_per_image.csv" and m_x["per_image"] == "m_x_per_image.csv"
    assert [r["abs_rel"] for r in per_image_rows(tmp_path, m, "x")] == [0.2] * 3
    assert [r["abs_rel"] for r in per_image_rows(tmp_path, m_x)] == [0.3] * 4
    assert [r["abs_rel"] for r in per_image_rows(tmp_path, m)] == [0.1] * 2
    assert per_image_csv_name("m_x") == "m_x_per_image.csv"
    for key, sets in (("m@x", None), ("m", {"a@b": ev(0.2, 1)})):
        with pytest.raises(ConfigError, match="holds '@', which separates a results key from an evaluation set"):
            write_result(tmp_path, key, provenance, ev(0.1, 1), sets)
    with pytest.raises(ConfigError, match="a zero-shot set cannot be named 'test'"):
        write_result(tmp_path, "k", provenance, ev(0.1, 2), {"test": ev(0.9, 1)})
    assert not (tmp_path / "results" / "k.json").exists()
    (tmp_path / "results" / "m@x_per_image.csv").rename(tmp_path / "results" / "old_m_x.csv")  # an older run folder
    m["zero_shot"]["x"]["per_image"] = "old_m_x.csv"
    assert [r["abs_rel"] for r in per_image_rows(tmp_path, m, "x")] == [0.2] * 3
