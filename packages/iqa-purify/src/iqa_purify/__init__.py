"""iqa-purify: input-purification defences for NR-IQA metrics, behind the ``iqa_core.Defence`` contract.

Components are reached through the registry (``iqa_core.create("defence", "jpeg", preset="q50")``,
``iqa_core.create("denoiser", "dncnn", weights=...)``). Importing this package imports torch only;
kornia and diffusers are imported by the defences that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iqa_core import lazy

if TYPE_CHECKING:
    from .base import PurificationDefence
    from .bilateral import Bilateral
    from .crop import RandomCrop
    from .diffjpeg import DiffJPEG
    from .diffpure import DiffPure
    from .diffpure_edge import DiffPureEdge
    from .diffpure_unsharp import DiffPureUnsharp
    from .diffusion_denoiser import MultiStepDiffusionDenoiser, OneStepDiffusionDenoiser
    from .disco import DISCO
    from .dncnn import DnCNN, train_dncnn
    from .fcn import FCNFilter
    from .flip import Flip
    from .gaussian_blur import GaussianBlur
    from .jpeg import JPEG, jpeg_roundtrip
    from .median_blur import MedianBlur
    from .mprnet import MPRNet
    from .noise import RandomNoise
    from .quantization import ColourQuantization
    from .realesrgan import RealESRGAN
    from .resize import Resize
    from .rotate import RandomRotate
    from .unsharp import Unsharp
    from .upscale import BilinearUpscale

    DEFENCES: tuple[type[Any], ...]
    DENOISERS: tuple[type[Any], ...]

# public name -> submodule that defines it (imported on first access: importing the package stays cheap)
_LAZY: dict[str, str] = {
    "PurificationDefence": "base",
    "Bilateral": "bilateral",
    "RandomCrop": "crop",
    "DiffJPEG": "diffjpeg",
    "DiffPure": "diffpure",
    "DiffPureEdge": "diffpure_edge",
    "DiffPureUnsharp": "diffpure_unsharp",
    "MultiStepDiffusionDenoiser": "diffusion_denoiser",
    "OneStepDiffusionDenoiser": "diffusion_denoiser",
    "DISCO": "disco",
    "DnCNN": "dncnn",
    "train_dncnn": "dncnn",
    "FCNFilter": "fcn",
    "Flip": "flip",
    "GaussianBlur": "gaussian_blur",
    "JPEG": "jpeg",
    "jpeg_roundtrip": "jpeg",
    "MedianBlur": "median_blur",
    "MPRNet": "mprnet",
    "RandomNoise": "noise",
    "ColourQuantization": "quantization",
    "RealESRGAN": "realesrgan",
    "Resize": "resize",
    "RandomRotate": "rotate",
    "Unsharp": "unsharp",
    "BilinearUpscale": "upscale",
}


def __getattr__(name: str) -> Any:
    if name in _GROUPS:
        globals()[name] = tuple(__getattr__(member) for member in _GROUPS[name])
        return globals()[name]
    return lazy.resolve(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_GROUPS})


__version__ = "0.3.1"

# the classes behind the registry entries, in the order the docs list them (built on first access)
_GROUPS: dict[str, tuple[str, ...]] = {
    "DEFENCES": (
        "JPEG",
        "DiffJPEG",
        "ColourQuantization",
        "Resize",
        "BilinearUpscale",
        "RandomRotate",
        "RandomCrop",
        "Flip",
        "GaussianBlur",
        "MedianBlur",
        "Bilateral",
        "Unsharp",
        "RandomNoise",
        "FCNFilter",
        "RealESRGAN",
        "MPRNet",
        "DISCO",
        "DiffPure",
        "DiffPureEdge",
        "DiffPureUnsharp",
    ),
    "DENOISERS": ("DnCNN", "OneStepDiffusionDenoiser", "MultiStepDiffusionDenoiser"),
}

__all__ = [
    "DEFENCES",
    "DENOISERS",
    "DISCO",
    "JPEG",
    "Bilateral",
    "BilinearUpscale",
    "ColourQuantization",
    "DiffJPEG",
    "DiffPure",
    "DiffPureEdge",
    "DiffPureUnsharp",
    "DnCNN",
    "FCNFilter",
    "Flip",
    "GaussianBlur",
    "MPRNet",
    "MedianBlur",
    "MultiStepDiffusionDenoiser",
    "OneStepDiffusionDenoiser",
    "PurificationDefence",
    "RandomCrop",
    "RandomNoise",
    "RandomRotate",
    "RealESRGAN",
    "Resize",
    "Unsharp",
    "__version__",
    "jpeg_roundtrip",
    "train_dncnn",
]
