"""Runs side by side (experiments.concurrent): the plan, results in order, output kept per run, failures raised."""

from functools import partial

import pytest
import torch

from zoedam_lib.experiments.concurrent import plan, run_concurrently


def test_plan_shares_the_cores_between_runs_and_keeps_cuda_sequential():
    assert plan(2, torch.device("cpu"), threads=2) == (2, 1)
    assert plan(2, torch.device("cpu"), threads=16) == (2, 8)
    assert plan(5, torch.device("cpu"), threads=2) == (2, 1)
    assert plan(1, torch.device("cpu"), threads=2) == (1, 2)  # one run keeps every core
    assert plan(2, torch.device("cpu"), threads=1) == (1, 1)
    assert plan(2, torch.device("cuda"), threads=16) == (1, 16)


def _work(name: str, fail: bool = False) -> tuple[str, int]:
    print(f"{name} says hello")
    if fail:
        raise ValueError(f"{name} failed")
    return name, torch.get_num_threads()


def test_runs_side_by_side_on_one_thread_each_and_show_their_output_in_order(capsys):
    results = run_concurrently({"b": partial(_work, "b"), "a": partial(_work, "a")}, "cpu", threads=2)
    assert list(results) == ["b", "a"] and results["b"] == ("b", 1) and results["a"] == ("a", 1)
    out = capsys.readouterr().out
    assert out.index("── b ──") < out.index("b says hello") < out.index("── a ──") < out.index("a says hello")


def test_a_failed_run_is_raised_after_every_run_has_been_shown(capsys):
    with pytest.raises(ValueError, match="bad failed"):
        run_concurrently({"bad": partial(_work, "bad", True), "good": partial(_work, "good")}, "cpu", threads=2)
    out = capsys.readouterr().out
    assert "bad says hello" in out and "good says hello" in out


def test_one_run_is_an_ordinary_call_in_this_process(capsys):
    assert run_concurrently({"only": partial(_work, "only")}, "cpu", threads=2) == {
        "only": ("only", torch.get_num_threads())}
    assert "── only ──" not in capsys.readouterr().out
