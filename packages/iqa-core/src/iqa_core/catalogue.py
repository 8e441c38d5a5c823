"""Which distribution provides each component name of the papers' catalogue.

Used only to turn "unknown name" into "install this package" in registry errors; the
registry itself discovers components through entry points.
"""

from __future__ import annotations

KNOWN_COMPONENTS: dict[str, dict[str, str]] = {
    "metric": {
        name: "iqa-metrics"
        for name in (
            "demo-cnniqa",
            "linearity",
            "metaiqa",
            "koncept512",
            "spaq",
            "paq2piq",
            "maniqa",
            "clipiqa+",
            "topiq-nr",
            "fpr",
            "hyperiqa",
            "dbcnn",
            "musiq",
            "nima",
            "cnniqa",
            "niqe",
            "brisque",
            "liqe",
            "arniqa",
        )
    },
    "measure": {name: "iqa-metrics" for name in ("psnr", "ssim", "ms-ssim", "mse", "linf", "lpips", "dists")},
    "attack": {
        name: "iqa-attacks"
        for name in (
            "fgsm",
            "ifgsm",
            "mifgsm",
            "amifgsm",
            "apgd",
            "korhonen",
            "zhang-ssim",
            "zhang-lpips",
            "zhang-dists",
            "madc",
            "ssah",
            "cadv",
            "advcf",
            "stadv",
            "uap",
            "facpa",
            "nes",
            "parsimonious",
            "onepixel",
            "square",
            "patch-rs",
        )
    },
    "defence": {
        name: "iqa-purify"
        for name in (
            "jpeg",
            "diffjpeg",
            "colour-quantization",
            "resize",
            "upscale",
            "random-rotate",
            "random-crop",
            "flip",
            "gaussian-blur",
            "median-blur",
            "bilateral",
            "unsharp",
            "random-noise",
            "mprnet",
            "real-esrgan",
            "disco",
            "diffpure",
            "diffpure-edge",
            "diffpure-unsharp",
            "fcn-filter",
        )
    },
    "denoiser": {name: "iqa-purify" for name in ("dncnn", "diffusion-one-step", "diffusion-reverse")},
    "certifier": {name: "iqa-certify" for name in ("rs", "drs", "ddrs", "densepure", "ms", "dms")},
}
