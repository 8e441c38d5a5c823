"""Offline demo assets: KADID-style graded distortions of photos shipped inside scikit-image.

``demo_dataset()`` gives the held-out demo dataset (labels: ``100 * SSIM`` to the reference,
see :mod:`iqa_bench.demo.dataset`); ``TRAIN_REFERENCES`` are the disjoint photos the demo
metric is trained on. Nothing here downloads anything.
"""

from .dataset import (
    CSV_COLUMNS,
    DEFAULT_DISTORTIONS,
    DEFAULT_LEVELS,
    DemoRecord,
    demo_dataset,
    read_demo_folder,
    stack_images,
    synthetic_mos,
    write_demo_folder,
)
from .distortions import DISTORTIONS, LEVEL_PARAMETERS, LEVELS, distort
from .references import DEFAULT_SIZE, DEMO_REFERENCES, REFERENCES, TRAIN_REFERENCES, is_grayscale, load_reference

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_DISTORTIONS",
    "DEFAULT_LEVELS",
    "DEFAULT_SIZE",
    "DEMO_REFERENCES",
    "DISTORTIONS",
    "LEVELS",
    "LEVEL_PARAMETERS",
    "REFERENCES",
    "TRAIN_REFERENCES",
    "DemoRecord",
    "demo_dataset",
    "distort",
    "is_grayscale",
    "load_reference",
    "read_demo_folder",
    "stack_images",
    "synthetic_mos",
    "write_demo_folder",
]
