"""Official image counts and sizes of the benchmark's datasets (for planning without the files).

Figures from the benchmark paper (sec. 3 and A.3.1, Table 4) and the catalogue: KonIQ-10k is used
at its 512x384 release (the benchmark's size; the 1024x768 originals are not what it scored),
KADID-10k is 81 references x 25 distortions x 5 levels at 512x384, NIPS 2017 is the 1,000-image
adversarial dev set at 299x299, AGIQA-3K is 2,982 images at 512x512.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OfficialDataset:
    """``count`` images of ``height`` x ``width``; ``per_reference`` items share a reference (KADID)."""

    kind: str
    count: int
    height: int
    width: int
    per_reference: int | None = None

    @property
    def size(self) -> tuple[int, int]:
        return (self.height, self.width)


OFFICIAL: dict[str, OfficialDataset] = {
    d.kind: d
    for d in (
        OfficialDataset("koniq10k", 10_073, 384, 512),
        OfficialDataset("kadid10k", 10_125, 384, 512, per_reference=125),
        OfficialDataset("nips2017", 1_000, 299, 299),
        OfficialDataset("agiqa3k", 2_982, 512, 512),
    )
}
"""The four datasets of the benchmark by config ``kind``."""

__all__ = ["OFFICIAL", "OfficialDataset"]
