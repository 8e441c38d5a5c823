"""iqa-purify: input-purification defences for NR-IQA metrics, behind the ``iqa_core.Defence`` contract.

Components are reached through the registry (``iqa_core.create("defence", "jpeg", preset="q50")``,
``iqa_core.create("denoiser", "dncnn", weights=...)``). Importing this package imports torch only;
kornia and diffusers are imported by the defences that use them.
"""

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

__version__ = "0.3.0"

DEFENCES = (
    JPEG,
    DiffJPEG,
    ColourQuantization,
    Resize,
    BilinearUpscale,
    RandomRotate,
    RandomCrop,
    Flip,
    GaussianBlur,
    MedianBlur,
    Bilateral,
    Unsharp,
    RandomNoise,
    FCNFilter,
    RealESRGAN,
    MPRNet,
    DISCO,
    DiffPure,
    DiffPureEdge,
    DiffPureUnsharp,
)
DENOISERS = (DnCNN, OneStepDiffusionDenoiser, MultiStepDiffusionDenoiser)

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
