"""Image decoding for datasets: iqa-core's shared loader (one loader for every CLI and dataset)."""

from iqa_core.images import ImageDecodeError, load_image

__all__ = ["ImageDecodeError", "load_image"]
