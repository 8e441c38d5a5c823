"""iqa-purify: input-purification defences for NR-IQA metrics, behind the ``iqa_core.Defence`` contract.

Components are reached through the registry (``iqa_core.create("defence", "jpeg", preset="q50")``).
"""

from .base import PurificationDefence
from .jpeg import JPEG, jpeg_roundtrip

__version__ = "0.1.0"

__all__ = ["JPEG", "PurificationDefence", "__version__", "jpeg_roundtrip"]
