"""Where the official checkpoints of the ported metrics come from (no torch import here).

None of the four official releases publishes a sha256: the files live on Google Drive, SURFdrive
or Baidu pan share pages. ``iqa_core.weights.fetch`` only downloads files whose hash is known, so
for these checkpoints the loaders accept

* ``weights=PATH`` (any file with the official key layout, fine-tuned ones included), or
* the file already placed in the weights cache under :attr:`OfficialWeights.filename`
  (``iqa-metrics download NAME --from FILE`` copies it there after checking its key layout and
  records its sha256 beside it). The cached file is trusted on first use and checked against the
  recorded sha256 on every later use, so a replaced cache file is refused, not loaded unverified.

When a sha256 becomes known, set it here: the loaders then use ``fetch`` (download + hash check)
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iqa_core.weights import WeightSpec, cache_dir


@dataclass(frozen=True)
class OfficialWeights:
    """One official checkpoint: its URL, cache file name, sha256 (None when unpublished) and source."""

    metric: str
    url: str
    filename: str
    sha256: str | None
    source: str
    layout: str

    @property
    def verified(self) -> bool:
        """True when a sha256 is known, so :func:`iqa_core.weights.fetch` can download and check it."""
        return self.sha256 is not None

    def spec(self) -> WeightSpec:
        """The :class:`~iqa_core.weights.WeightSpec` (``sha256=None`` when unpublished: trust on first use)."""
        return WeightSpec(name=self.metric, url=self.url, sha256=self.sha256, filename=self.filename, cli="iqa-metrics")

    @property
    def replace_hint(self) -> str:
        """What to do when the cached file no longer matches its recorded sha256."""
        return (
            f"if you replaced it on purpose, run `iqa-metrics download {self.metric} --from FILE` with a copy you "
            f"trust (it checks the key layout and records the new hash); otherwise download {self.filename} again "
            f"from {self.url} and run that command with it"
        )

    @property
    def cache_path(self) -> Path:
        """Where the weights cache keeps this file."""
        return cache_dir() / self.filename


LINEARITY = OfficialWeights(
    metric="linearity",
    url="https://drive.google.com/uc?export=download&id=1fwP7rhwdWwUtV92kkdLx88SXq3SvxfRs",
    filename="p1q2.pth",
    sha256=None,
    source=(
        "lidq92/LinearityIQA README (Baidu pan, password 4z7z); the benchmark's reference code links the same "
        "p1q2.pth on Google Drive"
    ),
    layout="linearity.json",
)
KONCEPT512 = OfficialWeights(
    metric="koncept512",
    url="https://surfdrive.surf.nl/files/index.php/s/oeGv7wEyyMwwbIO/download",
    filename="KonCept512.pth",
    sha256=None,
    source="ZhengyuZhao/koniq-PyTorch README ('pre-trained model', SURFdrive share)",
    layout="koncept512.json",
)
SPAQ = OfficialWeights(
    metric="spaq",
    url="https://drive.google.com/uc?export=download&id=1pXjXAIItViTFs7qUBY-b11WY50mzoVM2",
    filename="BL_release.pt",
    sha256=None,
    source="h4nwei/SPAQ README and weights/README.md (BL_release.pt, Google Drive)",
    layout="spaq.json",
)
FPR = OfficialWeights(
    metric="fpr",
    url="https://drive.google.com/uc?export=download&id=1SZlCQQvV04z8p5kZVWB_eLQFZGzawJHK",
    filename="model_best_kadid_0.pkl",
    sha256=None,
    source="the benchmark's reference code README (FPR_NI trained on KADID-10k, split 0, Google Drive)",
    layout="fpr.json",
)

#: Official checkpoints by registry name.
OFFICIAL_WEIGHTS: dict[str, OfficialWeights] = {w.metric: w for w in (LINEARITY, KONCEPT512, SPAQ, FPR)}

__all__ = ["FPR", "KONCEPT512", "LINEARITY", "OFFICIAL_WEIGHTS", "SPAQ", "OfficialWeights"]
