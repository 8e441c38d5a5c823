"""The benchmark's sampling (A.3.1): K-Means on spatial information, colourfulness and MOS.

* :func:`spatial_information`: standard deviation of the Sobel gradient magnitude of the luma
  (ITU-T P.910 SI, on [0, 255] levels).
* :func:`colourfulness`: Hasler & Süsstrunk (2003) ``sigma_rgyb + 0.3 * mu_rgyb``.
* :func:`sample_items`: features standardised, K-Means (``scipy.cluster.vq.kmeans2``, k-means++
  init, seeded), ``per_cluster`` items drawn at random (seeded) from each cluster; KADID-style
  datasets can instead be sampled by reference image (``references=8``: every distortion of 8
  references).

The paper (A.3.1) draws 100 images from each of 10 clusters "resulting in ... 1000 test images"
(5 of 10 "where possible" for the 50-image sets): the sample size is ``clusters * per_cluster``.
When a cluster holds fewer than ``per_cluster`` images, all of them are taken and the shortfall is
topped up from the other clusters' remaining images, spread as evenly as their sizes allow (one
more image per cluster per round, clusters in random order, images at random), so the sample
keeps its size and its balance over clusters. The top-up is logged and reported by
:func:`sample_items_with_info`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2
from scipy.stats import kruskal
from torch import Tensor

from .datasets import ImageItem

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class SampleInfo:
    """How a sample was drawn: requested and selected sizes, per-cluster sizes and draws, top-up."""

    requested: int
    selected: int
    cluster_sizes: dict[int, int] = field(default_factory=dict)
    taken: dict[int, int] = field(default_factory=dict)
    """Images drawn from each cluster (``per_cluster``, all of a small cluster, or more after a top-up)."""
    topped_up: int = 0
    """Images drawn beyond ``per_cluster`` from other clusters to make up for small ones."""
    small_clusters: tuple[int, ...] = ()
    """Clusters with fewer than ``per_cluster`` images."""

    def describe(self) -> str:
        """One line for the log / the CLI."""
        text = f"sampled {self.selected} of {self.requested} requested images"
        if self.small_clusters:
            sizes = ", ".join(f"cluster {c}: {self.cluster_sizes[c]}" for c in self.small_clusters)
            text += f"; {len(self.small_clusters)} cluster(s) smaller than asked ({sizes})"
            text += f"; topped up with {self.topped_up} image(s) from the other clusters"
        return text


def sample_items(
    items: Sequence[ImageItem],
    *,
    clusters: int = 10,
    per_cluster: int = 100,
    seed: int = 0,
    references: int | None = None,
    feats: np.ndarray | None = None,
) -> list[ImageItem]:
    """The benchmark's sample of ``items`` (see the module docstring), in dataset order.

    A top-up of small clusters is logged (warning); :func:`sample_items_with_info` also returns it.
    """
    chosen, _ = sample_items_with_info(
        items, clusters=clusters, per_cluster=per_cluster, seed=seed, references=references, feats=feats
    )
    return chosen


def sample_items_with_info(
    items: Sequence[ImageItem],
    *,
    clusters: int = 10,
    per_cluster: int = 100,
    seed: int = 0,
    references: int | None = None,
    feats: np.ndarray | None = None,
) -> tuple[list[ImageItem], SampleInfo]:
    """:func:`sample_items` with a :class:`SampleInfo` saying how the sample was drawn."""
    rng = np.random.default_rng(seed)
    if references is not None:
        refs = sorted({str(i.meta.get("reference")) for i in items})
        chosen = set(rng.choice(refs, size=min(references, len(refs)), replace=False).tolist())
        picked = [i for i in items if str(i.meta.get("reference")) in chosen]
        return picked, SampleInfo(requested=len(picked), selected=len(picked))
    feats = features(items) if feats is None else feats
    labels = kmeans_labels(feats, min(clusters, len(items)), seed)
    indices, info = _draw(labels, per_cluster, rng, requested=min(clusters * per_cluster, len(items)))
    if info.small_clusters or info.selected < info.requested:
        log.warning(info.describe())
    return [items[i] for i in indices], info


def _draw(
    labels: np.ndarray, per_cluster: int, rng: np.random.Generator, *, requested: int
) -> tuple[list[int], SampleInfo]:
    """Indices drawn per cluster (``per_cluster`` each), small clusters topped up from the others."""
    keep: set[int] = set()
    spare: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    taken: dict[int, int] = {}
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        take = min(per_cluster, members.size)
        drawn = rng.choice(members, size=take, replace=False).tolist()
        keep.update(drawn)
        left = sorted(set(members.tolist()) - set(drawn))
        spare[int(cluster)] = [left[k] for k in rng.permutation(len(left))]
        sizes[int(cluster)] = int(members.size)
        taken[int(cluster)] = take
    small = tuple(c for c, n in sizes.items() if n < per_cluster)
    shortfall = requested - len(keep)
    topped = 0
    while shortfall > 0 and any(spare.values()):
        donors = [c for c in sorted(spare) if spare[c]]
        for k in rng.permutation(len(donors)):
            if shortfall == 0:
                break
            cluster = donors[int(k)]
            keep.add(spare[cluster].pop())
            taken[cluster] += 1
            topped += 1
            shortfall -= 1
    info = SampleInfo(
        requested=requested,
        selected=len(keep),
        cluster_sizes=sizes,
        taken=taken,
        topped_up=topped,
        small_clusters=small,
    )
    return sorted(keep), info


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
