"""K-Means sampling (benchmark A.3.1): the sample has clusters x per_cluster images."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from iqa_bench.datasets import ImageItem
from iqa_bench.sampling import sample_items, sample_items_with_info


def _clustered(sizes: list[int], seed: int = 0) -> tuple[list[ImageItem], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0 * k, 5.0 * (k % 3), 3.0 * (k % 4)] for k in range(len(sizes))])
    feats = np.concatenate([c + rng.normal(0, 0.1, (n, 3)) for c, n in zip(centres, sizes, strict=True)])
    items = [ImageItem(id=f"img-{i:04d}", mos=float(feats[i, 2])) for i in range(len(feats))]
    return items, feats


def test_small_cluster_is_topped_up_to_the_requested_size(caplog: pytest.LogCaptureFixture) -> None:
    """Defect 12: a cluster of 50 made the sample 950 of 1000; the shortfall now comes from the others."""
    sizes = [200] * 9 + [50]
    items, feats = _clustered(sizes)
    with caplog.at_level(logging.WARNING, logger="iqa_bench.sampling"):
        chosen = sample_items(items, clusters=10, per_cluster=100, seed=3, feats=feats)
    assert len(chosen) == 1000
    assert len({i.id for i in chosen}) == 1000
    assert "topped up with 50" in caplog.text
    _, info = sample_items_with_info(items, clusters=10, per_cluster=100, seed=3, feats=feats)
    assert (info.requested, info.selected, info.topped_up) == (1000, 1000, 50)
    assert len(info.small_clusters) == 1 and info.cluster_sizes[info.small_clusters[0]] == 50
    assert info.taken[info.small_clusters[0]] == 50
    others = sorted(n for c, n in info.taken.items() if c not in info.small_clusters)
    assert others[0] >= 105 and others[-1] <= 106  # the 50 extra spread evenly over the 9 others


def test_no_top_up_when_every_cluster_is_large_enough(caplog: pytest.LogCaptureFixture) -> None:
    items, feats = _clustered([150] * 10)
    with caplog.at_level(logging.WARNING, logger="iqa_bench.sampling"):
        chosen, info = sample_items_with_info(items, clusters=10, per_cluster=100, seed=1, feats=feats)
    assert len(chosen) == 1000 and info.topped_up == 0 and not info.small_clusters
    assert caplog.text == ""
    assert [i.id for i in chosen] == sorted(i.id for i in chosen)  # dataset order


def test_fewer_items_than_asked_returns_them_all() -> None:
    items, feats = _clustered([30] * 4)
    chosen, info = sample_items_with_info(items, clusters=4, per_cluster=50, seed=0, feats=feats)
    assert len(chosen) == 120 and info.requested == 120 and info.selected == 120
