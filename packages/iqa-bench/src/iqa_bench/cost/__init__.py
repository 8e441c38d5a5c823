"""Cost model of a benchmark grid: dataset-free planning x a measured throughput profile.

:mod:`.profile` reads and writes profiles (JSON, one per device), :mod:`.measure` measures one on
the present device (imports torch and the component packages), :mod:`.model` multiplies the plan
by a profile. ``iqa-bench estimate CONFIG`` is the command line.
"""

from .model import DIMENSIONS, PAPER_GPU_HOURS, CostEstimate, estimate_cost, format_estimate
from .profile import ProfileError, default_profile_path, load_profile, save_profile

__all__ = [
    "DIMENSIONS",
    "PAPER_GPU_HOURS",
    "CostEstimate",
    "ProfileError",
    "default_profile_path",
    "estimate_cost",
    "format_estimate",
    "load_profile",
    "save_profile",
]
