"""One colour per model across every figure of the course.

A reader compares figures of different notebooks by colour: DenseDepth orange in notebook 03's
curves must be orange in notebook 06's bars, and ZoeDAM-S must not turn green in the scatter
because a model before it was left out. So colours belong to *models*, never to their position in
a figure: :func:`model_colour` maps a results key (``zoedam_vits``) or any label a notebook draws
it under (``"ZoeDAM-S"``, ``"from SynthDA"``, ``"teacher"``) to one colour. Every viz function that
draws a series per model takes its colour from here (``tests/test_viz_palette.py`` checks it).

The colours are matplotlib's tab10 (distinct in print and for the common colour-vision deficiencies
when paired with the markers the scatter adds): related models get related hues only where the
figure needs them apart anyway (ZoeDAM+ green, its control olive).
"""

from __future__ import annotations

import zlib

# results key (experiments.results.LABELS) → colour
MODEL_COLOURS: dict[str, str] = {
    "average": "#7f7f7f",  # grey: the image-blind baseline (paper §3.1.1)
    "densedepth": "#ff7f0e",  # orange: DenseDepth (§3.1.2)
    "zoedepth": "#17becf",  # cyan: ZoeDepth's reported row
    "zoedam_vits": "#1f77b4",  # blue: ZoeDAM-S from SynthDA / Depth Anything (§3.2); also ZoeDAM+'s teacher
    "zoedam_vits_random": "#8c564b",  # brown: the same ZoeDAM-S from random weights
    "zoedam_vitb": "#9467bd",  # purple: ZoeDAM-B
    "zoedam_vitl": "#e377c2",  # pink: ZoeDAM-L
    "zoedam_plus": "#2ca02c",  # green: the ZoeDAM+ student (§3.3)
    "zoedam_plus_control": "#bcbd22",  # olive: its control (same steps, unlabeled loss off)
    # red: camera-blind ZoeDAM-S, the paper's recipe (notebook 07; the default is aware)
    "zoedam_vits_blind": "#d62728",
    "posthoc": "#ff9896",  # light red: that camera-blind model with its metres scaled by f / f_train afterwards
    "ablation_beta0": "#aec7e8",  # light blue: ZoeDAM-S, SILog β = 0 short run (§4.3.1, eq. (2))
    "ablation_beta0.15": "#393b79",  # dark blue: ZoeDAM-S, SILog β = 0.15 short run
}

# the labels notebooks draw models under (lower case, without " (ours)") → results key
ALIASES: dict[str, str] = {
    "average depth": "average", "average": "average", "densedepth": "densedepth", "zoedepth": "zoedepth",
    "zoedam-s": "zoedam_vits", "from synthda": "zoedam_vits", "teacher": "zoedam_vits",
    "camera-blind": "zoedam_vits_blind", "camera-blind zoedam-s": "zoedam_vits_blind",
    "camera-blind (paper recipe)": "zoedam_vits_blind", "camera-blind + post-hoc": "posthoc",
    "zoedam-s camera-blind (paper recipe)": "zoedam_vits_blind",
    "zoedam-s, random init": "zoedam_vits_random", "from random weights": "zoedam_vits_random",
    "zoedam-b": "zoedam_vitb", "zoedam-l": "zoedam_vitl",
    "zoedam+": "zoedam_plus", "student": "zoedam_plus",
    "zoedam+ control (no unlabeled loss)": "zoedam_plus_control", "control": "zoedam_plus_control",
    "camera-aware": "zoedam_vits", "camera-aware zoedam-s": "zoedam_vits",
    "camera-aware (canonical camera)": "zoedam_vits",
    "zoedam-s, silog β = 0 (short run)": "ablation_beta0", "β = 0": "ablation_beta0",
    "zoedam-s, silog β = 0.15 (short run)": "ablation_beta0.15", "β = 0.15": "ablation_beta0.15",
}

# names no entry knows (a user's own variant) get one of these, chosen from the name: the same everywhere
SPARE_COLOURS = ("#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1")


def model_key(name: str) -> str | None:
    """The results key a model's key or display label stands for, or None for a name the palette does not know."""
    if name in MODEL_COLOURS:
        return name
    label = name.strip().lower().removesuffix(" (ours)").removesuffix(" (paper)").strip()
    return ALIASES.get(label, label if label in MODEL_COLOURS else None)


def model_colour(name: str) -> str:
    """The colour of the model ``name`` (a results key or any label in :data:`ALIASES`) in every figure.

    An unknown name gets a spare colour derived from the name itself (CRC-32, not Python's salted
    ``hash``), so it too keeps its colour from figure to figure and from run to run.
    """
    key = model_key(name)
    if key is not None:
        return MODEL_COLOURS[key]
    return SPARE_COLOURS[zlib.crc32(name.encode()) % len(SPARE_COLOURS)]
