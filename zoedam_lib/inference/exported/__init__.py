"""Exported models (ONNX, OpenVINO): the export, the runners and what they share (:mod:`.base`)."""
