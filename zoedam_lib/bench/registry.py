"""Every benchmark case by name: the one table :mod:`.process` and ``python -m zoedam_lib.bench`` read.

Each entry imports its module when the case runs, so a case process holds only what its own case
needs (the training cases never import ONNX Runtime, the inference cases never import the trainer)
and its peak memory is its own.
"""

from __future__ import annotations

from collections.abc import Callable


def _backend(args: dict) -> dict:
    from zoedam_lib.bench.backends import case_backend
    return case_backend(args)


def _backend_accuracy(args: dict) -> dict:
    from zoedam_lib.bench.backends import case_backend_accuracy
    return case_backend_accuracy(args)


def _train_cpu(args: dict) -> dict:
    from zoedam_lib.bench.train import case_train_cpu
    return case_train_cpu(args)


def _train_side_by_side(args: dict) -> dict:
    from zoedam_lib.bench.train import case_train_side_by_side
    return case_train_side_by_side(args)


def _camera_head(args: dict) -> dict:
    from zoedam_lib.bench.camera import case_camera_head
    return case_camera_head(args)


def _official(args: dict) -> dict:
    from zoedam_lib.bench.official import case_official
    return case_official(args)


def _general(name: str) -> Callable[[dict], dict]:
    def case(args: dict) -> dict:
        from zoedam_lib.bench import cases
        return {"matmul": cases.case_matmul, "peer": cases.case_peer, "train": cases.case_train,
                "metrics": cases.case_metrics, "synthrooms": cases.case_synthrooms,
                "loader": cases.case_loader}[name](args)
    case.__name__ = f"case_{name}"
    return case


CASES: dict[str, Callable[[dict], dict]] = {
    "matmul": _general("matmul"), "peer": _general("peer"), "train": _general("train"),
    "metrics": _general("metrics"), "synthrooms": _general("synthrooms"), "loader": _general("loader"),
    "backend": _backend, "backend_accuracy": _backend_accuracy, "train_cpu": _train_cpu,
    "train_side_by_side": _train_side_by_side, "official": _official, "camera_head": _camera_head,
}
