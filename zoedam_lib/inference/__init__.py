"""Prediction: the exact channels-last speed-up (:mod:`.exact`), the approximate fast path, the
per-job precision choice, :func:`~zoedam_lib.inference.predict.predict_depth`, exported models.
"""
