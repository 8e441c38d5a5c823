"""Goldens for the five pyiqa-backed benchmark metrics, from their official code (one metric per run).

    uv run --locked python tools/parity/pyiqa_metrics.py paq2piq --repo /path/to/baidut/paq2piq
    uv run --locked python tools/parity/pyiqa_metrics.py maniqa --repo /path/to/IIGROUP/MANIQA \
        --benchmark /path/to/msu-video-group/adversarial-defenses-for-iqa
    uv run --locked python tools/parity/pyiqa_metrics.py clipiqa_plus --repo /path/to/IceClear/CLIP-IQA
    uv run --locked python tools/parity/pyiqa_metrics.py metaiqa --repo /path/to/zhuhancheng/MetaIQA \
        --benchmark /path/to/msu-video-group/adversarial-defenses-for-iqa
    uv run --locked python tools/parity/pyiqa_metrics.py topiq_nr --repo /path/to/chaofengc/IQA-PyTorch

Each run imports the official model from the checkout, gives it :func:`seeded_state_dict` weights
under the official key names (backbones that would be downloaded are built with random init and then
seeded, nothing is fetched), runs the official preprocessing / entry point on seeded images and writes
``packages/iqa-metrics/tests/goldens/<metric>.json``: the scores and a summary of the input gradient
(sum, sum of absolute values, per-channel sums and a strided grid of values). Each metric runs in its
own process because the official repositories ship modules whose names clash (MANIQA vendors timm
0.5.5, CLIP-IQA vendors its own ``clip``, TOPIQ's official code *is* pyiqa).

The same seeded weights are written to a file in the official checkpoint format; the project's test
(``packages/iqa-metrics/tests/test_parity_pyiqa.py``) writes the same file and loads it through the
adapter's ``weights=PATH`` loader, so the key conversion is exercised too.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
import subprocess
import sys
import tempfile
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "packages/iqa-metrics/tests/goldens"
GENERATOR = "tools/parity/pyiqa_metrics.py"
BENCHMARK_REPO = "msu-video-group/adversarial-defenses-for-iqa"

#: Seeds of the weights per metric (the test uses the same).
WEIGHT_SEEDS = {"paq2piq": 101, "maniqa": 102, "clipiqa_plus": 103, "metaiqa": 104, "topiq_nr": 105}
#: MANIQA's weight scale: at scale 1 the random network is chaotic (an input change of 1e-6 moves the
#: score by 0.06, so float32 rounding differences between timm versions show as 1e-3); at 0.75 it is
#: well conditioned (scores ~0.57, official vs pyiqa agree to 3e-7).
MANIQA_SCALE = 0.75


#: Commits given on the command line (for exported trees without .git), by checkout path.
COMMITS: dict[Path, str] = {}


def commit_of(repo: Path) -> str:
    if repo in COMMITS:
        return COMMITS[repo]
    return subprocess.check_output(["git", "-C", str(repo), "rev-parse", "HEAD"], text=True).strip()


def grad_summary(grad: Tensor, stride: int) -> dict[str, Any]:
    """What the goldens keep of an input gradient (the test computes the same from its own)."""
    g = grad.detach().double()
    return {
        "grad_sum": float(g.sum()),
        "grad_abs_sum": float(g.abs().sum()),
        "grad_channel_sum": g.sum(dim=(2, 3)),
        "grad_grid": g[:, :, ::stride, ::stride],
    }


def score_and_grad(fn: Callable[[Tensor], Tensor], images: Tensor, stride: int) -> dict[str, Any]:
    x = images.clone().requires_grad_(True)
    scores = fn(x).reshape(images.shape[0])
    (grad,) = torch.autograd.grad(scores.sum(), x)
    return {"score": scores.detach(), **grad_summary(grad, stride)}


def image_case(name: str, seed: int, shape: list[int], stride: int, outputs: dict[str, Any], **extra: Any) -> dict:
    return {
        "name": name,
        "inputs": {"image_seed": seed, "shape": shape, "grad_stride": stride, **extra},
        "outputs": outputs,
    }


def cuda_is_identity() -> None:
    """Environment patch for code that moves tensors to CUDA unconditionally (no GPU here)."""
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]


def load_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- PaQ-2-PiQ (baidut/paq2piq)
def paq2piq(repo: Path, _benchmark: Path | None) -> None:
    import torchvision

    resnet18 = torchvision.models.resnet18
    # environment: the official RoIPoolModel asks torchvision for ImageNet weights (a download); the
    # seeded checkpoint replaces every entry afterwards, so build the backbone without them
    torchvision.models.resnet18 = lambda *a, **k: resnet18(weights=None)  # type: ignore[assignment]
    sys.path.insert(0, str(repo))
    from paq2piq.inference_model import InferenceModel  # official
    from paq2piq.model import RoIPoolModel  # official

    model = RoIPoolModel()
    state = seeded_state_dict(model, seed=WEIGHT_SEEDS["paq2piq"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "RoIPoolModel.pth"
        torch.save({"model": state}, path)  # the release's format: {"model": state_dict}
        inference = InferenceModel(model, path)  # official loader (strict load_state_dict)
    cases = []
    # 1) the official entry point: InferenceModel.predict_from_pil_image (ToTensor, global + 20x20 RoIs)
    from PIL import Image

    seed, shape = 11, [1, 3, 96, 128]
    pixels = (seeded_images(seed, shape) * 255).round().to(torch.uint8)
    pil = Image.fromarray(pixels[0].permute(1, 2, 0).numpy(), mode="RGB")
    out = inference.predict_from_pil_image(pil)
    cases.append(
        {
            "name": "predict_from_pil_image",
            "inputs": {"image_seed": seed, "shape": shape, "uint8": True},
            "outputs": {"score": [float(out["global_score"])], "local_scores_mean": float(out["local_scores"].mean())},
        }
    )

    # 2) the same forward as predict (RoIs set by input_block_rois), with autograd, batch of 2
    def forward(x: Tensor) -> Tensor:
        model.input_block_rois(InferenceModel.blk_size, [x.shape[-2], x.shape[-1]], batch_size=x.shape[0])
        return model(x)[:, 0]  # column 0 is the global RoI: the reported score

    seed, shape, stride = 12, [2, 3, 112, 144], 8
    cases.append(
        image_case("forward_batch2", seed, shape, stride, score_and_grad(forward, seeded_images(seed, shape), stride))
    )
    write_golden(
        GOLDENS / "paq2piq.json",
        component="paq2piq",
        repo="baidut/paq2piq",
        commit=commit_of(repo),
        entry="paq2piq/model.py RoIPoolModel + paq2piq/inference_model.py InferenceModel.predict (global score)",
        generator=GENERATOR,
        cases=cases,
        notes=(
            f"float32, CPU; seeded_state_dict(RoIPoolModel(), seed={WEIGHT_SEEDS['paq2piq']}) saved as "
            "{'model': state_dict} and loaded by the official InferenceModel. Environment: torchvision.models."
            "resnet18 built without ImageNet weights (the official code downloads them; every entry is then "
            "overwritten by the seeded checkpoint). No normalisation (the official Transform is ToTensor only). "
            "The gradient case calls the model as predict does (global RoI + 20x20 block RoIs) and keeps the "
            "global column."
        ),
    )


# ---------------------------------------------------------------- MANIQA (IIGROUP/MANIQA)
#: The configuration of the benchmark's wrapper (metrics/subjects/maniqa/model.py) = pyiqa's "maniqa".
MANIQA_CONFIG = dict(
    embed_dim=768, num_outputs=1, dim_mlp=768, patch_size=8, img_size=224, window_size=4,
    depths=[2, 2], num_heads=[4, 4], num_tab=2, scale=0.8,
)  # fmt: skip


def maniqa(repo: Path, benchmark: Path | None) -> None:
    cuda_is_identity()  # the official forward builds its score tensor with torch.tensor([]).cuda()
    sys.path.insert(0, str(repo))  # the repository vendors timm 0.5.5: the official code runs with it
    import timm

    create_model = timm.create_model

    def no_download(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return create_model(name, pretrained=False, **kwargs)

    # environment: pretrained=True would download ViT-B/8 ImageNet weights; the benchmark's own
    # patches/maniqa.patch makes the same change (pretrained=False), then the checkpoint overwrites them
    timm.create_model = no_download
    from models.maniqa import MANIQA  # official

    model = MANIQA(**MANIQA_CONFIG).eval()
    state = seeded_state_dict(model, seed=WEIGHT_SEEDS["maniqa"], scale=MANIQA_SCALE)
    model.load_state_dict(state, strict=True)
    cases = []

    # 1) one 224 crop at a fixed position (top left) of a 256 x 256 image: the official per-crop score
    #    (inference.py / predict_one_image.py: Normalize(0.5, 0.5), crop, net(crop); the crop position
    #    is random or five-point there: fixed here, pyiqa's uniform_crop with 1 crop takes (0, 0))
    def crop_forward(x: Tensor) -> Tensor:
        crop = x[..., :224, :224]
        return model((crop - 0.5) / 0.5)

    seed, shape, stride = 21, [1, 3, 256, 256], 16
    cases.append(
        image_case(
            "crop_top_left", seed, shape, stride, score_and_grad(crop_forward, seeded_images(seed, shape), stride)
        )
    )
    commit = commit_of(repo)
    notes = (
        f"float32, CPU; seeded_state_dict(MANIQA(**benchmark config), seed={WEIGHT_SEEDS['maniqa']}, "
        f"scale={MANIQA_SCALE}) loaded (at scale 1 the random network amplifies float32 rounding 1e5-fold) "
        "strictly (official checkpoint keys = pyiqa's). Environment: timm.create_model forced to "
        "pretrained=False (as the benchmark's patches/maniqa.patch does; the seeded weights replace the ViT's), "
        "torch.Tensor.cuda = identity (the official forward calls torch.tensor([]).cuda()). The official "
        "scripts average 20 random crops (predict_one_image.py) or five-point crops (inference.py); here one "
        "crop at a fixed position (top left), the position pyiqa's uniform_crop takes for 1 crop."
    )
    # 2) the benchmark's wrapper (metrics/subjects/maniqa/model.py MetricModel): Resize([224, 224]) of the
    #    whole image, Normalize(0.5, 0.5), one pass, no crops
    if benchmark is not None:
        import torchvision.transforms as T

        resize = T.Resize

        class Resize014(resize):  # type: ignore[misc,valid-type]
            """torchvision 0.14 (the benchmark's image: pytorch 1.13.1) did not antialias tensors."""

            def __init__(self, size: Any, *a: Any, **k: Any) -> None:
                k.setdefault("antialias", False)
                super().__init__(size, *a, **k)

        T.Resize = Resize014  # type: ignore[misc]
        import models as official_models

        sys.modules["maniqa_models"] = official_models  # the wrapper's patch renames models/ to maniqa_models/
        sys.modules["maniqa_models.maniqa"] = sys.modules["models.maniqa"]
        wrapper = load_module("benchmark_maniqa_wrapper", benchmark / "metrics/subjects/maniqa/model.py")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ckpt_koniq10k.pt"
            torch.save(state, path)
            metric = wrapper.MetricModel("cpu", str(path))
        del model
        seed, shape, stride = 22, [1, 3, 192, 256], 16
        cases.append(
            image_case(
                "benchmark_wrapper_resize",
                seed,
                shape,
                stride,
                score_and_grad(metric, seeded_images(seed, shape), stride),
            )
        )
        notes += (
            f" Case benchmark_wrapper_resize runs the benchmark's wrapper ({BENCHMARK_REPO}@"
            f"{commit_of(benchmark)[:12]} metrics/subjects/maniqa/model.py: Resize([224, 224]) of the whole "
            "image, Normalize(0.5, 0.5), one pass) with transforms.Resize(antialias=False): torchvision 0.14 "
            "(the benchmark's pytorch 1.13.1 image) did not antialias tensors; the wrapper's maniqa_models "
            "package is the official models/ package (its patch only renames it and sets pretrained=False)."
        )
    write_golden(
        GOLDENS / "maniqa.json",
        component="maniqa",
        repo="IIGROUP/MANIQA",
        commit=commit,
        entry="models/maniqa.py MANIQA.forward on Normalize(0.5, 0.5) crops (inference.py / predict_one_image.py)",
        generator=GENERATOR,
        cases=cases,
        notes=notes,
    )


# ---------------------------------------------------------------- CLIP-IQA+ (IceClear/CLIP-IQA)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: CLIP RN50 (the architecture OpenAI's RN50 file encodes, as clip.build_model reads it).
CLIP_RN50 = dict(
    embed_dim=1024, image_resolution=224, vision_layers=(3, 4, 6, 3), vision_width=64, vision_patch_size=None,
    context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12,
)  # fmt: skip


def clip_release_weights(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Seeded CLIP weights made release-like: float16-representable (OpenAI's files hold fp16 weights and
    pyiqa's loader rounds through fp16) and CLIP's trained temperature, logit_scale = ln(100) (a seeded
    ~0 would make the scores ~0.5 for every image and the comparison insensitive). The test does the same."""
    out = {k: v.half().float() if v.is_floating_point() else v for k, v in state.items()}
    out["logit_scale"] = torch.tensor(math.log(100.0)).half().float()
    return out


def stub_modules(names: dict[str, dict[str, Any]]) -> None:
    for name, attributes in names.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module


def clipiqa_plus(repo: Path, _benchmark: Path | None) -> None:
    class Registry:
        def register_module(self, *a: Any, **k: Any) -> Callable[[Any], Any]:
            return lambda cls: cls

    unused = None
    # environment: the official predictor lives in an mmediting fork; only coopclipiqa.py and the
    # vendored clip package are needed, so the mmcv/mmedit modules it imports are stubbed
    stub_modules(
        {
            "mmcv": {},
            "mmcv.runner": {"load_checkpoint": unused},
            "mmcv.runner.checkpoint": {"_load_checkpoint_with_prefix": unused},
            "mmedit": {"__path__": []},
            "mmedit.models": {"__path__": []},
            "mmedit.models.backbones": {"__path__": []},
            "mmedit.models.backbones.sr_backbones": {"__path__": []},
            "mmedit.models.backbones.sr_backbones.rrdb_net": {"RRDB": unused},
            "mmedit.models.builder": {"build_component": unused},
            "mmedit.models.common": {"PixelShufflePack": unused, "make_layer": unused},
            "mmedit.models.registry": {"BACKBONES": Registry()},
            "mmedit.utils": {"get_root_logger": unused},
            "mmedit.models.components": {"__path__": [str(repo / "mmedit/models/components")]},
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation
        from mmedit.models.components.clip import clip as official_clip  # official (vendored CLIP)
        from mmedit.models.components.clip import model as official_clip_model
    layout = official_clip_model.CLIP(**CLIP_RN50)
    clip_state = clip_release_weights(seeded_state_dict(layout, seed=WEIGHT_SEEDS["clipiqa_plus"]))
    del layout
    # environment: the official build_model converts weights to fp16 (the official code ran on a GPU in
    # half precision); float32 here so that the comparison can be tight
    official_clip_model.convert_weights = lambda model: None
    official_clip.build_model.__globals__["convert_weights"] = lambda model: None
    with tempfile.TemporaryDirectory() as tmp:
        clip_file = Path(tmp) / "RN50.pt"
        torch.save(clip_state, clip_file)  # not a TorchScript archive: load_clip_to_cpu falls back to torch.load
        official_clip._download = lambda url, root=None: str(clip_file)  # environment: no download
        coop = load_module("coopclipiqa_official", repo / "mmedit/models/backbones/sr_backbones/coopclipiqa.py")
        # configs/clipiqa/clipiqa_coop_koniq.py
        predictor = coop.CLIPIQAPredictor(classnames=[["Good photo.", "Bad photo."]], backbone_name="RN50").eval()
    ctx_key = "clipmodel_0.prompt_learner.ctx"
    ctx = seeded_state_dict({ctx_key: predictor.clipmodel_0.prompt_learner.ctx}, seed=WEIGHT_SEEDS["clipiqa_plus"])[
        ctx_key
    ]
    with torch.no_grad():
        predictor.clipmodel_0.prompt_learner.ctx.copy_(ctx)
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)

    def forward(x: Tensor) -> Tensor:
        # the test pipeline: RescaleToZeroOne, Normalize(CLIP mean/std, to_rgb); the restorer's
        # forward_test returns the predictor's first output (the probability of "Good photo.")
        output, _ = predictor((x - mean) / std)
        return output[:, 0]

    seed, shape, stride = 31, [1, 3, 224, 224], 16
    cases = [image_case("rn50_224", seed, shape, stride, score_and_grad(forward, seeded_images(seed, shape), stride))]
    write_golden(
        GOLDENS / "clipiqa_plus.json",
        component="clipiqa+",
        repo="IceClear/CLIP-IQA",
        commit=commit_of(repo),
        entry=(
            "mmedit/models/backbones/sr_backbones/coopclipiqa.py CLIPIQAPredictor (configs/clipiqa/"
            "clipiqa_coop_koniq.py: RN50, ['Good photo.', 'Bad photo.']) on CLIP-normalised images"
        ),
        generator=GENERATOR,
        cases=cases,
        notes=(
            f"float32, CPU. CLIP RN50 weights: seeded_state_dict(CLIP(RN50 config), seed="
            f"{WEIGHT_SEEDS['clipiqa_plus']}) under OpenAI's key names, rounded to float16 values (OpenAI's release "
            "files are fp16; pyiqa's CLIP loader rounds through fp16) with logit_scale = ln(100) (CLIP's trained "
            "temperature; a seeded ~0 leaves every score near 0.5), saved as a plain state_dict file that "
            "the official load_clip_to_cpu reads (clip._download patched to return it: no download); learned "
            f"context: seeded '{ctx_key}' (16 x 512, shared by both prompts). Environment: mmcv / mmedit "
            "modules that coopclipiqa.py imports but does not use for inference are stubbed; clip's "
            "convert_weights (fp16) disabled: the official code ran in half precision on a GPU, compared "
            "here in float32. Normalisation as the test pipeline (CLIP mean/std), no resize."
        ),
    )


# ---------------------------------------------------------------- MetaIQA (zhuhancheng/MetaIQA)
def official_definitions(path: Path, names: set[str]) -> dict[str, Any]:
    """Execute only the imports and the named class definitions of a script (its module level trains)."""
    tree = ast.parse(path.read_text())
    keep = [
        node
        for node in tree.body
        if (isinstance(node, ast.ClassDef) and node.name in names)
        or (isinstance(node, ast.Import | ast.ImportFrom) and "sklearn" not in ast.unparse(node))
    ]
    namespace: dict[str, Any] = {"__name__": "metaiqa_official"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def metaiqa(repo: Path, benchmark: Path | None) -> None:
    from torchvision import models

    script = repo / "MetaIQA_FineTune_WILDLIVE.py"
    official = official_definitions(script, {"BaselineModel1", "Net", "Rescale", "Normalize", "ToTensor"})
    # MetaIQA_On_TID2013_KADID.py builds Net(resnet=models.resnet18(pretrained=True), net=BaselineModel1(1, 0.5, 1000));
    # the ImageNet backbone weights are replaced by the seeded ones (no download)
    model = official["Net"](resnet=models.resnet18(weights=None), net=official["BaselineModel1"](1, 0.5, 1000)).eval()
    state = seeded_state_dict(model, seed=WEIGHT_SEEDS["metaiqa"])
    model.load_state_dict(state, strict=True)
    cases = []
    # 1) the official test transform: Rescale((224, 224)) (skimage), Normalize (ImageNet), ToTensor, .float()
    seed, shape = 41, [1, 3, 224, 224]
    image = seeded_images(seed, shape)
    from torchvision import transforms

    transform = transforms.Compose([official["Rescale"]((224, 224)), official["Normalize"](), official["ToTensor"]()])
    sample = transform({"image": image[0].permute(1, 2, 0).double().numpy(), "rating": 0.0})
    with torch.no_grad():
        score = model(sample["image"].unsqueeze(0).float())
    cases.append(
        {
            "name": "official_transform_224",
            "inputs": {"image_seed": seed, "shape": shape},
            "outputs": {"score": score.reshape(1)},
        }
    )
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    # 2) the same with autograd (the official Normalize written with torch ops; Rescale is the identity at 224)
    seed, shape, stride = 42, [2, 3, 224, 224], 16
    forward = lambda x: model((x - mean) / std)  # noqa: E731
    cases.append(
        image_case(
            "normalised_224_batch2", seed, shape, stride, score_and_grad(forward, seeded_images(seed, shape), stride)
        )
    )
    notes = (
        f"float32, CPU; seeded_state_dict(Net(resnet18, BaselineModel1(1, 0.5, 1000)), seed={WEIGHT_SEEDS['metaiqa']}) "
        "under the official names (resnet_layer.*, net.*). The official script trains at module level, so only "
        "its imports (minus sklearn) and the class definitions BaselineModel1, Net, Rescale, Normalize, ToTensor "
        "are executed; the backbone is torchvision's resnet18 built without ImageNet weights (replaced by the "
        "seeded ones)."
    )
    # 3) the benchmark's wrapper (metrics/subjects/meta-iqa/src/model.py): ImageNet normalisation, no resize
    if benchmark is not None:
        wrapper = load_module("benchmark_metaiqa_wrapper", benchmark / "metrics/subjects/meta-iqa/src/model.py")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "metaiqa.pth"
            torch.save(state, path)
            metric = wrapper.MetricModel("cpu", str(path))
        seed, shape, stride = 43, [2, 3, 160, 200], 16
        cases.append(
            image_case(
                "benchmark_wrapper_native",
                seed,
                shape,
                stride,
                score_and_grad(metric, seeded_images(seed, shape), stride),
            )
        )
        notes += (
            f" Case benchmark_wrapper_native runs the benchmark's wrapper ({BENCHMARK_REPO}@"
            f"{commit_of(benchmark)[:12]} metrics/subjects/meta-iqa/src/model.py, strict load of the same "
            "state_dict): ImageNet Normalize, no resize (the official test code and pyiqa resize to 224 x 224)."
        )
    write_golden(
        GOLDENS / "metaiqa.json",
        component="metaiqa",
        repo="zhuhancheng/MetaIQA",
        commit=commit_of(repo),
        entry="MetaIQA_FineTune_WILDLIVE.py Net(resnet18, BaselineModel1) with its test transform",
        generator=GENERATOR,
        cases=cases,
        notes=notes,
    )


# ---------------------------------------------------------------- TOPIQ-NR (chaofengc/IQA-PyTorch)
def topiq_nr(repo: Path, _benchmark: Path | None) -> None:
    sys.path.insert(0, str(repo))  # the authors' repository is pyiqa: import it from the checkout
    # environment: pyiqa/version.py is written by setup.py (not in git); the checkout runs without installing
    stub_modules({"pyiqa.version": {"__version__": f"checkout-{commit_of(repo)[:12]}"}})
    import pyiqa

    assert Path(pyiqa.__file__).resolve().is_relative_to(repo.resolve()), pyiqa.__file__
    # as the README: pyiqa.create_metric('topiq_nr', as_loss=True) for gradients; the release and the
    # ImageNet backbone are not downloaded (pretrained=False, backbone_pretrain=False), the seeded
    # weights replace every entry of the network
    metric = pyiqa.create_metric(
        "topiq_nr", as_loss=True, loss_reduction="none", device="cpu", pretrained=False, backbone_pretrain=False
    )
    state = seeded_state_dict(metric.net, seed=WEIGHT_SEEDS["topiq_nr"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cfanet_nr_koniq_res50.pth"
        torch.save({"params": state}, path)  # the release's format
        from pyiqa.archs.arch_util import load_pretrained_network

        load_pretrained_network(metric.net, str(path), True, "params")  # the loader the release goes through
    metric.eval()
    seed, shape, stride = 51, [2, 3, 192, 256], 16
    cases = [
        image_case("batch2_192x256", seed, shape, stride, score_and_grad(metric, seeded_images(seed, shape), stride))
    ]
    write_golden(
        GOLDENS / "topiq_nr.json",
        component="topiq_nr",
        repo="chaofengc/IQA-PyTorch",
        commit=commit_of(repo),
        entry="pyiqa.create_metric('topiq_nr', as_loss=True) (CFANet, pyiqa/archs/topiq_arch.py) from the checkout",
        generator=GENERATOR,
        cases=cases,
        notes=(
            f"float32, CPU. TOPIQ's official code is pyiqa itself: the checkout's pyiqa is imported and called as "
            f"the README does; weights seeded_state_dict(net, seed={WEIGHT_SEEDS['topiq_nr']}) saved as "
            "{'params': state_dict} (the release's format) and loaded with pyiqa's load_pretrained_network. "
            "The project compares its adapter on the pinned pyiqa wheel against this checkout. Environment: "
            "pyiqa.version (generated by setup.py, absent from git) stubbed."
        ),
    )


METRICS: dict[str, Callable[[Path, Path | None], None]] = {
    "paq2piq": paq2piq,
    "maniqa": maniqa,
    "clipiqa_plus": clipiqa_plus,
    "metaiqa": metaiqa,
    "topiq_nr": topiq_nr,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metric", choices=sorted(METRICS))
    parser.add_argument("--repo", type=Path, required=True, help="checkout of the metric's official repository")
    parser.add_argument(
        "--benchmark", type=Path, help=f"checkout of {BENCHMARK_REPO} (maniqa, metaiqa: adds the wrapper's case)"
    )
    parser.add_argument("--commit", help="commit of --repo (read with git when omitted)")
    parser.add_argument("--benchmark-commit", help="commit of --benchmark (read with git when omitted)")
    args = parser.parse_args()
    repo, benchmark = args.repo.resolve(), (args.benchmark.resolve() if args.benchmark else None)
    if args.commit:
        COMMITS[repo] = args.commit
    if benchmark is not None and args.benchmark_commit:
        COMMITS[benchmark] = args.benchmark_commit
    torch.manual_seed(0)
    METRICS[args.metric](repo, benchmark)
    print(f"wrote {GOLDENS / (args.metric + '.json')}")


if __name__ == "__main__":
    main()
