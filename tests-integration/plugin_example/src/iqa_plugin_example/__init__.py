"""Example plugin for iqa-core: a metric, an attack and a defence registered through entry points.

Nothing here imports another ``iqa-*`` package but ``iqa_core``: the registry finds the three
components by their entry points, and ``iqa_core.testing`` checks them against the contracts.
"""

from .attack import RFGSM
from .defence import BoxBlur
from .metric import Sharpness

__version__ = "0.1.0"

__all__ = ["RFGSM", "BoxBlur", "Sharpness", "__version__"]
