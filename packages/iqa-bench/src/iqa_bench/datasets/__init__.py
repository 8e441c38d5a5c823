"""Datasets: official layouts, folder + CSV, the demo; robust image decoding; sampling."""

from .images import ImageDecodeError, load_image
from .sources import DatasetLayoutError, ImageItem, agiqa3k, demo, folder, kadid10k, koniq10k, nips2017

__all__ = [
    "DatasetLayoutError",
    "ImageDecodeError",
    "ImageItem",
    "agiqa3k",
    "demo",
    "folder",
    "kadid10k",
    "koniq10k",
    "load_image",
    "nips2017",
]
