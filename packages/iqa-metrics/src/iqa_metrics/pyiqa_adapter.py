"""One adapter for every pyiqa no-reference metric: autograd on, eval mode, per-image scores.

``PyiqaMetric("maniqa")`` builds ``pyiqa.create_metric(name, as_loss=True, loss_reduction="none")``
(pyiqa disables gradients unless ``as_loss=True``; ``"none"`` keeps one score per image), keeps it in
eval mode (``train()`` does not switch it back), reads ``higher_is_better`` from pyiqa's
``lower_better``, and takes bounds from the benchmark's Table 6 for the benchmark metrics and from
pyiqa's documented score range for the rest (``~`` marks an approximate end; replace them with
measured bounds via ``iqa-metrics bounds``). Metrics whose scores have no useful gradient (hand-made
features, histograms, numpy inside: NIQE, BRISQUE, PIQE, PI, NRQM, entropy, ...) are
``differentiable=False``: only black-box attacks apply.

Known breakages are checked before anything is built:

* CLIP-based metrics import ``clip`` (openai-clip), which needs ``pkg_resources`` (setuptools < 81);
  Q-Align needs ``icecream``. A missing module raises ``ImportError`` naming the fix.
* Several constructors download backbone weights even with ``pretrained=False`` (torchvision:
  paq2piq, dbcnn, tres, arniqa, unique; timm / Hugging Face: nima, hyperiqa, maniqa; CLIP models).
  Offline (``IQA_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``) every download entry point that pyiqa,
  torchvision and openai-clip use is blocked while the metric is built, so the first file that
  would be fetched raises :class:`~iqa_core.weights.WeightsNotFoundError` naming the file, its URL,
  the cache path and the prefetch command ``iqa-metrics download NAME`` - before any connection is
  attempted. Hugging Face lookups fail fast under ``HF_HUB_OFFLINE=1`` and are reported the same way.

Weights of pyiqa metrics stay in pyiqa's and torch.hub's caches (``$TORCH_HOME/hub``); pyiqa
downloads and checks them itself. ``weights=PATH`` is the local override, as for the ported metrics:
the metric is built without its release (``pretrained=False``, or None where the option names a
release; backbones still come from their caches) and the file is loaded by :func:`load_weights`:
``torch.load(weights_only=True)``, the release's key layout checked strictly (missing, unexpected
and mis-shaped entries are named), so a checkpoint that does not fit fails instead of loading
partly. Accepted layouts: a state_dict of the network, plain or under ``params`` / ``state_dict`` /
``model`` (``module.`` prefixes dropped); MetaIQA's original names (``net.*`` for pyiqa's
``head.*``, without the normalisation buffers); CLIP-IQA+'s learned-prompt file (a bare context
tensor).

Preprocessing of the benchmark metrics (``preprocessing="benchmark"``, the default): the benchmark's
numbers come from its own wrappers (msu-video-group/adversarial-defenses-for-iqa
``metrics/subjects``), which feed two of the five metrics differently from pyiqa:

* MANIQA (``subjects/maniqa/model.py``): the whole image resized to 224 x 224 (bilinear, no antialias:
  torchvision 0.14 on tensors), ``Normalize(0.5, 0.5)``, one pass. pyiqa instead takes
  ``test_sample`` uniform 224 px crops (20 by default; images with a side <= 224 are first upscaled
  so that the shorter side is 225) and pools the patch scores of all crops into one weighted mean.
* MetaIQA (``subjects/meta-iqa/src/model.py``): ImageNet normalisation at the native size. pyiqa (like
  the official test code) resizes to 224 x 224 first.

PaQ-2-PiQ's wrapper calls pyiqa itself; CLIP-IQA+ and TOPIQ-NR have no wrapper there: pyiqa's
forward. ``preprocessing="pyiqa"`` gives pyiqa's behaviour for all. The parity goldens
(``tests/goldens/*.json``, ``tools/parity/pyiqa_metrics.py``) check both against the official code.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core.types import Bounds
from iqa_core.validation import check_images
from iqa_core.weights import WeightsNotFoundError, WeightSpec, fetch, offline

from ._checkpoint import check_layout, extract_state_dict, layout_of, read_checkpoint
from .pyiqa_names import EXCLUDED, PYIQA_NR_NAMES

#: Benchmark Table 6 bounds of the five benchmark metrics that pyiqa provides.
BENCHMARK_BOUNDS: dict[str, Bounds] = {
    "metaiqa": Bounds(0.0, 1.0),
    "maniqa": Bounds(0.0, 1.0),
    "clipiqa+": Bounds(0.0, 1.0),
    "topiq_nr": Bounds(0.22, 0.82),
    "paq2piq": Bounds(58.38, 84.17),
}

#: Score ranges pyiqa leaves open-ended: PI = ((10 - Ma) + NIQE) / 2 with Ma in [0, 10] and NIQE in
#: pyiqa's ~[0, 100], so PI lies in about [0, 55].
RANGE_OVERRIDES: dict[str, Bounds] = {"pi": Bounds(0.0, 55.0)}

#: pyiqa NR metrics without a useful backward pass.
NOT_DIFFERENTIABLE: frozenset[str] = frozenset(
    {"niqe", "niqe_matlab", "ilniqe", "brisque", "brisque_matlab", "piqe", "pi", "nrqm", "entropy"}
)

#: Name prefixes of metrics that import openai-clip (needs pkg_resources) or icecream.
_NEEDS_CLIP = ("clipiqa", "laion_aes", "liqe", "maclip", "qualiclip")
_NEEDS_ICECREAM = ("qalign",)

_GUARD_LOCK = threading.Lock()

Preprocessing = Literal["benchmark", "pyiqa"]

#: Metrics whose benchmark wrapper preprocesses differently from pyiqa's forward (module docstring).
BENCHMARK_PREPROCESSING: dict[str, str] = {
    "maniqa": "whole image resized to 224 x 224 (bilinear, no antialias), Normalize(0.5, 0.5), one pass",
    "metaiqa": "ImageNet normalisation at the native size (no resize)",
}

#: Keys under which released checkpoints hold the network's state_dict (pyiqa's own files use
#: ``params``); a plain state_dict loads as it is.
CHECKPOINT_KEYS: tuple[str, ...] = ("params", "state_dict", "model")


@dataclass(frozen=True)
class ReleaseLayout:
    """How a metric's released checkpoints name the entries of pyiqa's network, where they differ.

    ``renames``: (prefix in the file, prefix in the network) pairs, applied in order to every key.
    ``constants``: network entries a release may lack (fixed buffers the network sets itself); every
    other entry of the network must be in the file with its shape.
    """

    renames: tuple[tuple[str, str], ...] = ()
    constants: frozenset[str] = field(default_factory=frozenset)

    def rename(self, key: str) -> str:
        for old, new in self.renames:
            if key.startswith(old):
                key = new + key[len(old) :]
        return key


#: Releases that differ from ``inner.net.state_dict()``: MetaIQA's original checkpoints call the
#: regression head ``net`` (pyiqa: ``head``), may carry a training wrapper prefix ``net_g.``, and lack
#: pyiqa's ImageNet normalisation buffers.
RELEASE_LAYOUTS: dict[str, ReleaseLayout] = {
    "metaiqa": ReleaseLayout(renames=(("net_g.", ""), ("net.", "head.")), constants=frozenset({"mean", "std"})),
}


def _import_pyiqa() -> Any:
    try:
        import pyiqa
    except ImportError as error:
        raise ImportError(
            f"pyiqa metrics need the pyiqa extra: `pip install 'iqa-metrics[pyiqa]'` ({error})"
        ) from error
    return pyiqa


def resolve_name(name: str) -> str:
    """The pyiqa name for ``name`` (exact, or equal after the registry's normalisation)."""
    if name in PYIQA_NR_NAMES:
        return name
    key = name.strip().lower().replace("_", "-")
    for candidate in PYIQA_NR_NAMES:
        if candidate.lower().replace("_", "-") == key:
            return candidate
    if name in EXCLUDED:
        raise ValueError(f"pyiqa metric {name!r} is not an image metric here: {EXCLUDED[name]}")
    raise ValueError(f"no pyiqa no-reference metric named {name!r}; known: {', '.join(PYIQA_NR_NAMES)}")


def parse_score_range(text: str | None) -> Bounds:
    """pyiqa's ``score_range`` (``"~0, ~1"``, ``"1, 5"``) as Bounds; ``~`` (approximate) is dropped."""
    if not text:
        raise ValueError("pyiqa gives no score range")
    parts = [p.strip().lstrip("~").strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"cannot read pyiqa score range {text!r}")
    return Bounds(float(parts[0]), float(parts[1]))


def default_bounds(pyiqa_name: str, score_range: str | None) -> Bounds:
    if pyiqa_name in BENCHMARK_BOUNDS:
        return BENCHMARK_BOUNDS[pyiqa_name]
    if pyiqa_name in RANGE_OVERRIDES:
        return RANGE_OVERRIDES[pyiqa_name]
    return parse_score_range(score_range)


def check_requirements(pyiqa_name: str) -> None:
    """Raise ``ImportError`` with the fix for the known missing-module breakages."""
    if pyiqa_name.startswith(_NEEDS_CLIP):
        if importlib.util.find_spec("pkg_resources") is None:
            raise ImportError(
                f"pyiqa metric {pyiqa_name!r} uses openai-clip, which imports pkg_resources: "
                "install setuptools < 81 (`pip install 'setuptools<81'`); setuptools 81 removed pkg_resources"
            )
        if importlib.util.find_spec("clip") is None:
            raise ImportError(f"pyiqa metric {pyiqa_name!r} needs openai-clip: `pip install openai-clip`")
    if pyiqa_name.startswith(_NEEDS_ICECREAM) and importlib.util.find_spec("icecream") is None:
        raise ImportError(f"pyiqa metric {pyiqa_name!r} needs icecream: `pip install icecream`")


def _blocked(metric: str) -> Callable[..., Any]:
    def refuse(url: Any, dst: Any = None, *args: Any, **kwargs: Any) -> Any:
        address = url.full_url if isinstance(url, urllib.request.Request) else str(url)
        name = Path(urlparse(address).path).name or address
        where = f" (expected at {dst})" if isinstance(dst, str | Path) else ""
        raise WeightsNotFoundError(
            f"building pyiqa metric {metric!r} needs {name}{where} from {address}, and downloads are disabled "
            "(IQA_OFFLINE/HF_HUB_OFFLINE). On a machine with internet run `iqa-metrics download "
            f"{metric}` and copy its torch hub cache ({torch.hub.get_dir()}) here, or unset the offline variables"
        )

    return refuse


@contextlib.contextmanager
def no_downloads(metric: str) -> Iterator[None]:
    """While active, the download functions of torch.hub, pyiqa and openai-clip raise WeightsNotFoundError."""
    refuse = _blocked(metric)
    targets: list[tuple[Any, str]] = [(torch.hub, "download_url_to_file"), (urllib.request, "urlopen")]
    try:
        from pyiqa.utils import download_util

        targets += [(download_util, "download_url_to_file"), (download_util, "download_file_from_google_drive")]
    except ImportError:
        pass
    with _GUARD_LOCK:
        saved = [(obj, attr, getattr(obj, attr)) for obj, attr in targets if hasattr(obj, attr)]
        try:
            for obj, attr, _ in saved:
                setattr(obj, attr, refuse)
            yield
        finally:
            for obj, attr, original in saved:
                setattr(obj, attr, original)


def _hub_offline_error(error: BaseException) -> bool:
    text = f"{type(error).__name__} {error}"
    return any(
        marker in text
        for marker in (
            "LocalEntryNotFound",
            "offline",
            "OfflineModeIsEnabled",
            "couldn't connect",
            "cannot find the requested files",
        )
    )


def detach_cached_tensors(module: nn.Module) -> None:
    """Replace tensors that modules cached from a forward pass (non-leaf, part of a graph) by detached ones."""
    for sub in module.modules():
        for key, value in list(vars(sub).items()):
            if isinstance(value, Tensor) and not value.is_leaf:
                sub.__dict__[key] = value.detach()


def _load_prompt_context(net: nn.Module, context: Tensor, path: Path) -> None:
    """A bare tensor is CLIP-IQA+'s learned-prompt release: the context vectors of its prompt learner."""
    learner = getattr(net, "prompt_learner", None)
    ctx = getattr(learner, "ctx", None)
    if not isinstance(ctx, Tensor):
        raise ValueError(
            f"checkpoint {path} is a bare tensor (a CLIP-IQA+ learned-prompt file), but {type(net).__name__} "
            "has no learned prompt context; pass a state_dict checkpoint"
        )
    if tuple(context.shape) not in (tuple(ctx.shape), tuple(ctx.shape[1:])):
        raise ValueError(
            f"checkpoint {path}: prompt context of shape {tuple(context.shape)} does not fit {tuple(ctx.shape)} "
            f"(or {tuple(ctx.shape[1:])} shared by all prompts)"
        )
    with torch.no_grad():
        ctx.copy_(context.to(ctx).expand_as(ctx))


def load_weights(net: nn.Module, pyiqa_name: str, path: str | os.PathLike[str]) -> None:
    """Load a released (or fine-tuned) checkpoint of ``pyiqa_name`` into pyiqa's network ``net``.

    ``weights_only`` loading; the layout is checked strictly against ``net`` after the metric's
    :data:`RELEASE_LAYOUTS` renames (see the module docstring for the accepted layouts).
    """
    file = Path(path)
    checkpoint = read_checkpoint(file)
    if isinstance(checkpoint, Tensor):
        _load_prompt_context(net, checkpoint, file)
        return
    release = RELEASE_LAYOUTS.get(pyiqa_name, ReleaseLayout())
    state = {release.rename(k): v for k, v in extract_state_dict(checkpoint, file, keys=CHECKPOINT_KEYS).items()}
    expected = {k: shape for k, shape in layout_of(net).items() if k in state or k not in release.constants}
    check_layout(state, expected, what=f"checkpoint {file} for pyiqa metric {pyiqa_name!r}")
    net.load_state_dict(state, strict=not (release.constants - state.keys()))


def _maniqa_resized(net: Any, images: Tensor) -> Tensor:
    """MANIQA as the benchmark's wrapper runs it: one pass on the whole image resized to 224 x 224.

    The network is pyiqa's (its ViT, token-attention blocks, Swin stages and the two heads); only the
    input path differs from pyiqa's forward (no crops): resize, normalise, then the same stages.
    """
    size = net.img_size
    x = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    x = (x - net.default_mean.to(x)) / net.default_std.to(x)
    net.save_output.clear()
    net.vit(x)
    tokens = net.extract_feature(net.save_output)  # blocks 6-9 of the ViT, without the class token
    net.save_output.clear()
    n, side = x.shape[0], net.input_size
    x = tokens.transpose(1, 2)  # (n, channels, patches)
    for stage, (tabs, conv, swin) in enumerate(
        ((net.tablock1, net.conv1, net.swintransformer1), (net.tablock2, net.conv2, net.swintransformer2))
    ):
        for tab in tabs:
            x = tab(x)
        x = swin(conv(x.reshape(n, -1, side, side)))
        x = x.flatten(2) if stage == 0 else x.flatten(2).transpose(1, 2)  # last: (n, patches, channels)
    score = net.fc_score(x).reshape(n, -1)
    weight = net.fc_weight(x).reshape(n, -1)
    return (weight * score).sum(dim=-1) / (weight.sum(dim=-1) + 1e-8)


def _metaiqa_native(net: Any, images: Tensor) -> Tensor:
    """MetaIQA as the benchmark's wrapper runs it: ImageNet normalisation, no resize."""
    return net.head(net.resnet_layer((images - net.mean.to(images)) / net.std.to(images)))


_BENCHMARK_FORWARD: dict[str, Callable[[Any, Tensor], Tensor]] = {
    "maniqa": _maniqa_resized,
    "metaiqa": _metaiqa_native,
}


def _without_release(pyiqa_name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with pyiqa's release download switched off (``pretrained=None`` where it names a release)."""
    pretrained, local_path = options.get("pretrained"), options.get("pretrained_model_path")
    if pretrained or local_path is not None:
        raise ValueError(
            "weights=PATH loads the checkpoint itself: leave pretrained and pretrained_model_path unset "
            f"(got pretrained={pretrained!r}, pretrained_model_path={local_path!r})"
        )
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    default = DEFAULT_CONFIGS[pyiqa_name]["metric_opts"].get("pretrained")
    return {**options, "pretrained": None if isinstance(default, str) else False}


class PyiqaMetric(nn.Module):
    """A pyiqa no-reference metric as a :class:`~iqa_core.protocols.Metric` (see the module docstring).

    ``name``: pyiqa name (``"maniqa"``, ``"topiq_nr"``, ``"clipiqa+"``; registry spellings such as
    ``"topiq-nr"`` work too). ``bounds``: override the default bounds. ``device``: where the metric
    is placed (default CPU; move the module with ``.to``); pyiqa builds it on the CPU and the adapter
    moves it, so pyiqa's device marker stays a registered parameter that follows later ``.to`` calls.
    ``weights``: a local checkpoint in the release's key layout, loaded instead of pyiqa's download
    (see the module docstring). ``preprocessing``: ``"benchmark"`` (default) feeds MANIQA and MetaIQA
    as the benchmark's wrappers do, ``"pyiqa"`` uses pyiqa's forward for every metric (see the module
    docstring; the other metrics are the same either way). Other keyword arguments go to ``pyiqa.create_metric`` (e.g.
    ``pretrained=False``, ``backbone_pretrain=False``, MANIQA's ``test_sample``, CLIP-IQA's ``backbone``).
    """

    def __init__(
        self,
        name: str,
        *,
        bounds: Bounds | None = None,
        device: str | torch.device = "cpu",
        weights: str | os.PathLike[str] | None = None,
        preprocessing: Preprocessing = "benchmark",
        **options: Any,
    ) -> None:
        super().__init__()
        if preprocessing not in ("benchmark", "pyiqa"):
            raise ValueError(f"preprocessing must be 'benchmark' or 'pyiqa', got {preprocessing!r}")
        pyiqa_name = resolve_name(name)
        check_requirements(pyiqa_name)
        pyiqa = _import_pyiqa()
        local: Path | None = None
        if weights is not None:  # checked before the (slow) build; same rules as the ports' weights=PATH
            local = fetch(WeightSpec(name=pyiqa_name, url="", sha256=None), path=weights, check=False)
            options = _without_release(pyiqa_name, options)
        guard = no_downloads(pyiqa_name) if offline() else contextlib.nullcontext()
        try:
            with guard:
                inner = pyiqa.create_metric(
                    pyiqa_name, as_loss=True, loss_reduction="none", device=torch.device("cpu"), **options
                )
        except WeightsNotFoundError:
            raise
        except (OSError, RuntimeError, ValueError) as error:
            if offline() and _hub_offline_error(error):
                raise WeightsNotFoundError(
                    f"building pyiqa metric {pyiqa_name!r} needs files from the Hugging Face hub, which is offline "
                    f"(HF_HUB_OFFLINE): {error}. On a machine with internet run `iqa-metrics download {pyiqa_name}` "
                    "and copy its Hugging Face cache (~/.cache/huggingface) here"
                ) from error
            raise
        if local is not None:
            load_weights(inner.net, pyiqa_name, local)
        self.inner = inner
        self.name = pyiqa_name
        self.preprocessing: Preprocessing = preprocessing
        self._forward_net = _BENCHMARK_FORWARD.get(pyiqa_name) if preprocessing == "benchmark" else None
        self.weights = local
        self.higher_is_better = not bool(inner.lower_better)
        self.bounds = bounds if bounds is not None else default_bounds(pyiqa_name, inner.score_range)
        self.differentiable = pyiqa_name not in NOT_DIFFERENTIABLE
        self.eval()
        self.to(device)

    def train(self, mode: bool = True) -> PyiqaMetric:
        """Metrics stay in eval mode (BatchNorm statistics and dropout fixed); fine-tune ``self.inner.net`` directly."""
        return super().train(False)

    def __deepcopy__(self, memo: dict[int, Any]) -> PyiqaMetric:
        """Deep copies work after a forward with autograd (some pyiqa networks cache graph tensors)."""
        detach_cached_tensors(self)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = copy.deepcopy(value, memo)
        return new

    def forward(self, images: Tensor) -> Tensor:
        check_images(images)  # finite, in [0, 1] (randomized smoothing relaxes the range: noisy_inputs)
        if self._forward_net is not None:
            scores = self._forward_net(self.inner.net, images.to(self.inner.dummy_param.device))
        else:
            scores = self.inner(images)
        if isinstance(scores, tuple | list):
            scores = scores[0]
        return scores.reshape(images.shape[0]).float()

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, higher_is_better={self.higher_is_better}, differentiable={self.differentiable}, "
            f"preprocessing={self.preprocessing!r}"
        )


__all__ = [
    "BENCHMARK_BOUNDS",
    "BENCHMARK_PREPROCESSING",
    "CHECKPOINT_KEYS",
    "NOT_DIFFERENTIABLE",
    "RELEASE_LAYOUTS",
    "PyiqaMetric",
    "ReleaseLayout",
    "check_requirements",
    "default_bounds",
    "load_weights",
    "no_downloads",
    "parse_score_range",
    "resolve_name",
]
