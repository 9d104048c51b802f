"""Figures for the notebooks: every one names its data and preset, shares one colour scale per kind,
and keeps its colour bars in their own axes.

Each figure function returns a matplotlib figure and takes a required ``note`` (``RunContext.note()``),
drawn under the figure; display it with :func:`show` (which attaches the note to the notebook
output's metadata) and save it with :func:`save_figure`.

============================  =========================================================
module                        figures
============================  =========================================================
``figures``                   note, show, save_figure, the shared colour scale, metric axis labels
``palette``                   one colour per model in every figure (model_colour, MODEL_COLOURS)
``samples``                   sample_grid, depth_histograms, image_row, depth_map, cutmix_figure
``predictions``               prediction_grid (RGB | GT | models, |error| rows)
``curves``                    training_curves (loss kinds, each run on its own steps, validation)
``error_by_depth``            AbsRel per ground-truth depth range, averaged per image
``scale``                     predicted vs true median depth (scale vs structure)
``bars``                      metric bars with bootstrap intervals
``head``                      the metric-bins head at work (bins per stage, probabilities)
``pointcloud``                predicted vs true point cloud, back-projected with the camera
============================  =========================================================
"""

from zoedam_lib.viz.bars import metric_bars
from zoedam_lib.viz.curves import TrainingRun, training_curves
from zoedam_lib.viz.error_by_depth import error_by_depth
from zoedam_lib.viz.figures import DEPTH_CMAP, ERROR_CMAP, Scale, add_note, figure_note, save_figure, show
from zoedam_lib.viz.head import head_figure
from zoedam_lib.viz.palette import MODEL_COLOURS, model_colour
from zoedam_lib.viz.pointcloud import point_cloud_figure
from zoedam_lib.viz.predictions import prediction_grid
from zoedam_lib.viz.samples import cutmix_figure, depth_histograms, depth_map, image_row, relative_figure, sample_grid
from zoedam_lib.viz.scale import median_scatter

__all__ = ["DEPTH_CMAP", "ERROR_CMAP", "MODEL_COLOURS", "Scale", "TrainingRun", "add_note", "cutmix_figure",
           "depth_histograms", "depth_map", "error_by_depth", "figure_note", "head_figure", "image_row",
           "median_scatter", "metric_bars", "model_colour", "point_cloud_figure", "prediction_grid", "relative_figure",
           "sample_grid", "save_figure", "show", "training_curves"]
