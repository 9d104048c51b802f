"""zoedam_lib: the machinery behind the ZoeDAM notebooks (data, models, losses, metrics, training).

Three lines to metric depth::

    from zoedam_lib import load_model
    model = load_model("depth_anything_metric_depth_indoor.pt")   # or our checkpoint dir, or a Hub id
    depth = model.predict(image)                                   # (H, W) metres
"""

from .checkpoints import load_model, save_model
from .metrics import compute_metrics
from .seeding import seed_everything

__version__ = "0.1.0"
__all__ = ["load_model", "save_model", "compute_metrics", "seed_everything", "__version__"]
