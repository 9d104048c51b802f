"""Training losses: SILog, DenseDepth's eq. (1), the affine-invariant loss, feature alignment.

Every loss masks its ground truth with :func:`zoedam_lib.utils.depth.valid_depth`, so NaN, inf,
zero and out-of-range depths never reach a loss.
"""
