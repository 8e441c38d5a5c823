import logging

import pytest
import torch

from iqa_core import OutOfMemoryAtBatchOne, Scorer
from iqa_core.testing import ToyBlurDefence, ToyMetric, toy_images


class RecordingMetric(ToyMetric):
    """ToyMetric that records the shapes of the batches it sees."""

    def __init__(self):
        super().__init__()
        self.batches: list[tuple[int, ...]] = []

    def forward(self, images):
        self.batches.append(tuple(images.shape))
        return super().forward(images)


def test_tensor_input_batches_and_matches_direct_call():
    metric = RecordingMetric()
    x = toy_images(5, (32, 32))
    scores = Scorer("cpu", batch_size=2).score(metric, x)
    assert [b[0] for b in metric.batches] == [2, 2, 1]
    assert torch.allclose(scores, ToyMetric()(x))
    assert scores.dtype == torch.float32 and scores.shape == (5,)


def test_list_of_sizes_is_grouped_and_returned_in_input_order():
    metric = RecordingMetric()
    sizes = [(32, 32), (40, 24), (32, 32), (40, 24), (32, 32)]
    images = [toy_images(1, s, seed=i)[0] for i, s in enumerate(sizes)]
    scores = Scorer("cpu", batch_size=8).score(metric, images)
    # two groups, one batch each: equal sizes were stacked together
    assert sorted(b[:1] + b[2:] for b in metric.batches) == [(2, 40, 24), (3, 32, 32)]
    expected = torch.stack([ToyMetric()(img[None])[0] for img in images])
    assert torch.allclose(scores, expected)


def test_stream_of_batches_is_consumed_lazily():
    consumed = []

    def stream():
        for i in range(3):
            consumed.append(i)
            yield toy_images(2, (32, 32), seed=i)

    scorer = Scorer("cpu", batch_size=4)
    it = scorer.iter_map(ToyMetric(), stream())
    next(it)
    assert consumed == [0]  # only the first batch was read
    rest = list(it)
    assert len(rest) == 5 and consumed == [0, 1, 2]


def test_apply_keeps_structure_and_passes_generator():
    blur = ToyBlurDefence()
    x = toy_images(3, (32, 32))
    out = Scorer("cpu", batch_size=2).apply(blur, x, generator=torch.Generator().manual_seed(0))
    assert isinstance(out, torch.Tensor) and torch.allclose(out, blur(x))
    outs = Scorer("cpu").apply(blur, [x[0], toy_images(1, (20, 28))[0]])
    assert isinstance(outs, list) and outs[1].shape == (3, 20, 28)


def test_out_of_memory_halves_batch_and_retries(caplog):
    calls = []

    def fragile(images):
        calls.append(images.shape[0])
        if images.shape[0] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return images.mean(dim=(1, 2, 3))

    x = toy_images(10, (16, 16))
    scorer = Scorer("cpu", batch_size=8)
    with caplog.at_level(logging.WARNING):
        scores = scorer.score(fragile, x)
    assert torch.allclose(scores, x.mean(dim=(1, 2, 3)))
    assert calls[:3] == [8, 4, 2]  # 8 fails, 4 fails, 2 works
    assert scorer.batch_size == 2  # remembered for later batches
    assert "out of memory" in caplog.text


def test_runtime_error_with_oom_message_is_also_backed_off():
    def fragile(images):
        if images.shape[0] > 1:
            raise RuntimeError("CUDA error: out of memory")
        return images.mean(dim=(1, 2, 3))

    assert Scorer("cpu", batch_size=4).score(fragile, toy_images(3, (8, 8))).shape == (3,)


def test_out_of_memory_at_batch_one_raises_clearly():
    def always_oom(images):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OutOfMemoryAtBatchOne, match="even with one image"):
        Scorer("cpu", batch_size=4).score(always_oom, toy_images(2, (8, 8)))


def test_other_errors_are_not_swallowed():
    def broken(images):
        raise ValueError("bad weights")

    with pytest.raises(ValueError, match="bad weights"):
        Scorer("cpu").score(broken, toy_images(2, (8, 8)))


def test_inference_mode_unless_grad_requested():
    seen = []

    def probe(images):
        seen.append(torch.is_inference_mode_enabled())
        return images.mean(dim=(1, 2, 3))

    scorer = Scorer("cpu")
    scorer.score(probe, toy_images(1, (8, 8)))
    scorer.score(probe, toy_images(1, (8, 8)), grad=True)
    assert seen == [True, False]


def test_progress_callback_reports_done_and_total():
    reports = []
    Scorer("cpu", batch_size=2, progress=lambda done, total: reports.append((done, total))).score(
        ToyMetric(), toy_images(5, (16, 16))
    )
    assert reports == [(2, 5), (4, 5), (5, 5)]


def test_autocast_and_channels_last_keep_scores_close_on_cpu():
    x = toy_images(4, (32, 32))
    plain = Scorer("cpu").score(ToyMetric(), x)
    fast = Scorer("cpu", autocast=True, channels_last=True).score(ToyMetric(), x)
    assert fast.dtype == torch.float32
    assert torch.allclose(plain, fast, atol=1.0)  # bfloat16 on CPU: about 2-3 significant digits


def test_bad_outputs_and_devices_are_reported():
    with pytest.raises(ValueError, match="first dimension"):
        Scorer("cpu").score(lambda x: x.mean(), toy_images(2, (8, 8)))
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        Scorer("cpu").score(ToyMetric(), [torch.rand(1, 8, 8)])
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            Scorer("cuda")
    with pytest.raises(ValueError, match="batch_size"):
        Scorer("cpu", batch_size=0)
