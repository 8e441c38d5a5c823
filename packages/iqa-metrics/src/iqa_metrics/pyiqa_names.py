"""Registry entry points of the pyiqa catalogue: one factory per pyiqa NR metric (imports nothing heavy).

Entry points are static, so ``pyproject.toml`` lists one line per name, e.g.
``"clipiqa+" = "iqa_metrics.pyiqa_names:clipiqa_plus"``; this module turns the attribute back into
the pyiqa name (``+`` -> ``_plus``, ``-`` -> ``_``) and returns a :class:`PyiqaFactory`. Listing the
registry imports nothing; creating a metric imports pyiqa.
"""

from __future__ import annotations

from typing import Any

#: pyiqa 0.1.16 ``list_models(metric_mode="NR")`` minus :data:`EXCLUDED` (a test keeps them in sync).
PYIQA_NR_NAMES: tuple[str, ...] = (
    "afine_nr", "arniqa", "arniqa-clive", "arniqa-csiq", "arniqa-flive", "arniqa-kadid", "arniqa-live",
    "arniqa-spaq", "arniqa-tid", "brisque", "brisque_matlab", "clipiqa", "clipiqa+", "clipiqa+_rn50_512",
    "clipiqa+_vitL14_512", "cnniqa", "compare2score", "dbcnn", "entropy", "fgresq", "hyperiqa", "ilniqe",
    "laion_aes", "liqe", "liqe_mix", "maclip", "maniqa", "maniqa-kadid", "maniqa-pipal", "metaiqa", "musiq",
    "musiq-ava", "musiq-paq2piq", "musiq-spaq", "nima", "nima-koniq", "nima-spaq", "nima-vgg16-ava", "niqe",
    "niqe_matlab", "nrqm", "paq2piq", "pi", "piqe", "qalign", "qalign_4bit", "qalign_8bit", "qrealign",
    "qrealign-lite", "qrealign-mini", "qrealign-pro", "qualiclip", "qualiclip+", "qualiclip+-clive",
    "qualiclip+-flive", "qualiclip+-spaq", "topiq_iaa", "topiq_iaa_res50", "topiq_nr", "topiq_nr-face",
    "topiq_nr-face-v1", "topiq_nr-flive", "topiq_nr-spaq", "topiq_nr_swin-face", "tres", "tres-flive", "unique",
    "uranker", "wadiqam_nr",
)  # fmt: skip

#: pyiqa "NR" entries that do not score single images: dataset-level distances (FID variants,
#: inception score) and CLIPScore, which needs a caption per image.
EXCLUDED: dict[str, str] = {
    "fid": "dataset-level distance between two image folders",
    "fid_dinov2": "dataset-level distance between two image folders",
    "sfid": "dataset-level distance between two image folders",
    "inception_score": "dataset-level score of an image set",
    "clipscore": "image-text score: needs a caption per image",
}


def attribute_name(pyiqa_name: str) -> str:
    """Entry-point attribute of a pyiqa name: ``clipiqa+_rn50_512`` -> ``clipiqa_plus_rn50_512``."""
    return pyiqa_name.replace("+", "_plus").replace("-", "_")


_BY_ATTRIBUTE: dict[str, str] = {attribute_name(n): n for n in PYIQA_NR_NAMES}


class PyiqaFactory:
    """Builds :class:`iqa_metrics.pyiqa_adapter.PyiqaMetric` for one pyiqa name (what the registry calls)."""

    def __init__(self, pyiqa_name: str) -> None:
        self.pyiqa_name = pyiqa_name
        self.__doc__ = (
            f"pyiqa metric {pyiqa_name!r} through the iqa-metrics adapter (autograd on, eval mode, per-image scores)."
        )

    def __call__(self, **params: Any) -> Any:
        from .pyiqa_adapter import PyiqaMetric

        return PyiqaMetric(self.pyiqa_name, **params)

    def __repr__(self) -> str:
        return f"PyiqaFactory({self.pyiqa_name!r})"


def __getattr__(attribute: str) -> PyiqaFactory:
    try:
        return PyiqaFactory(_BY_ATTRIBUTE[attribute])
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no pyiqa metric factory {attribute!r}") from None


__all__ = ["EXCLUDED", "PYIQA_NR_NAMES", "PyiqaFactory", "attribute_name"]
