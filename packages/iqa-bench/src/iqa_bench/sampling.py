"""The benchmark's sampling (A.3.1): K-Means on spatial information, colourfulness and MOS.

* :func:`spatial_information`: standard deviation of the Sobel gradient magnitude of the luma
  (ITU-T P.910 SI, on [0, 255] levels).
* :func:`colourfulness`: Hasler & Süsstrunk (2003) ``sigma_rgyb + 0.3 * mu_rgyb``.
* :func:`sample_items`: features standardised, K-Means (``scipy.cluster.vq.kmeans2``, k-means++
  init, seeded), ``per_cluster`` items drawn at random (seeded) from each cluster; KADID-style
  datasets can instead be sampled by reference image (``references=8``: every distortion of 8
  references).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2
from scipy.stats import kruskal
from torch import Tensor

from .datasets import ImageItem


def spatial_information(image: Tensor) -> float:
    """SI of a ``(3, H, W)`` image in [0, 1]."""
    luma = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None, None] * 255
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    gx = F.conv2d(luma, kx.view(1, 1, 3, 3))
    gy = F.conv2d(luma, kx.t().reshape(1, 1, 3, 3))
    return float(torch.sqrt(gx**2 + gy**2).std())


def colourfulness(image: Tensor) -> float:
    """Hasler & Süsstrunk colourfulness of a ``(3, H, W)`` image in [0, 1] (on [0, 255] levels)."""
    r, g, b = (image * 255).double()
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def features(items: Sequence[ImageItem]) -> np.ndarray:
    """``(n, 3)`` array of SI, colourfulness and MOS (MOS 0 when absent)."""
    rows = []
    for item in items:
        image = item.load()
        rows.append((spatial_information(image), colourfulness(image), item.mos if item.mos is not None else 0.0))
    return np.asarray(rows, dtype=np.float64)


def kmeans_labels(feats: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    z = (feats - feats.mean(0)) / np.where(feats.std(0) > 0, feats.std(0), 1.0)
    _, labels = kmeans2(z, clusters, minit="++", seed=np.random.default_rng(seed))
    return np.asarray(labels)


def sample_items(
    items: Sequence[ImageItem],
    *,
    clusters: int = 10,
    per_cluster: int = 100,
    seed: int = 0,
    references: int | None = None,
    feats: np.ndarray | None = None,
) -> list[ImageItem]:
    """The benchmark's sample of ``items`` (see the module docstring), in dataset order."""
    rng = np.random.default_rng(seed)
    if references is not None:
        refs = sorted({str(i.meta.get("reference")) for i in items})
        chosen = set(rng.choice(refs, size=min(references, len(refs)), replace=False).tolist())
        return [i for i in items if str(i.meta.get("reference")) in chosen]
    feats = features(items) if feats is None else feats
    labels = kmeans_labels(feats, min(clusters, len(items)), seed)
    keep: set[int] = set()
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        take = min(per_cluster, members.size)
        keep.update(rng.choice(members, size=take, replace=False).tolist())
    return [items[i] for i in sorted(keep)]


def kruskal_wallis(sample: np.ndarray, population: np.ndarray) -> list[dict[str, Any]]:
    """Kruskal-Wallis H test per feature column, sample vs population (benchmark Table 5).

    A p-value above the significance level means no evidence that the sample differs from the
    dataset in that feature.
    """
    names = ["spatial_information", "colourfulness", "mos"][: sample.shape[1]]
    out = []
    for k, name in enumerate(names):
        result = kruskal(sample[:, k], population[:, k])
        out.append({"feature": name, "statistic": float(result.statistic), "p_value": float(result.pvalue)})
    return out
