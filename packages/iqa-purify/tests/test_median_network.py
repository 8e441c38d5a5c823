"""The comparison-network median blur against the torch.median implementation it replaced."""

import pytest
import torch
import torch.nn.functional as F

from iqa_purify.median_blur import MedianBlur, median_filter

KERNELS = sorted({p["kernel_size"] for p in MedianBlur.presets.values()} | {13})


def reference_median(images, k, padding="reflect", rows_per_chunk=64):
    """The previous implementation: torch.median over unfolded windows (kept as the reference)."""
    r = k // 2
    h, w = images.shape[-2:]
    if padding == "zeros":
        padded = F.pad(images, (r, r, r, r), mode="constant", value=0.0)
    elif padding == "reflect" and r < h and r < w:
        padded = F.pad(images, (r, r, r, r), mode="reflect")
    else:
        padded = F.pad(images, (r, r, r, r), mode="replicate")
    rows = []
    for top in range(0, h, rows_per_chunk):
        band = padded[..., top : min(h, top + rows_per_chunk) + 2 * r, :]
        rows.append(band.unfold(-2, k, 1).unfold(-2, k, 1).flatten(-2).median(dim=-1).values)
    return torch.cat(rows, dim=-2)


def draw(kind, shape, seed):
    g = torch.Generator().manual_seed(seed)
    if kind == "continuous":
        return torch.rand(shape, generator=g)
    if kind == "8-bit":
        return torch.randint(0, 256, shape, generator=g).float() / 255
    if kind == "four levels":  # ties in nearly every window
        return torch.randint(0, 4, shape, generator=g).float() / 3
    if kind == "flat":
        return torch.full(shape, 0.25)
    raise AssertionError(kind)


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("padding", ["reflect", "replicate", "zeros"])
@pytest.mark.parametrize("kind", ["continuous", "8-bit", "four levels", "flat"])
def test_values_equal_torch_median(k, padding, kind):
    for i, shape in enumerate([(2, 3, 23, 31), (1, 3, 40, 17), (1, 1, 5, 4), (1, 2, 1, 9)]):
        x = draw(kind, shape, seed=100 * k + i)
        assert torch.equal(median_filter(x, k, padding, rows_per_chunk=7), reference_median(x, k, padding)), shape


def test_values_on_a_natural_image_at_every_preset():
    from skimage import data as skimage_data

    x = torch.from_numpy(skimage_data.astronaut()[::2, ::2].copy()).permute(2, 0, 1)[None].float() / 255
    for k in KERNELS:
        assert torch.equal(MedianBlur(k)(x), reference_median(x, k)), k


def test_infinities_and_nans_are_selected_like_torch_median():
    x = draw("continuous", (1, 2, 12, 14), seed=7)
    x[0, 0, 3, 4], x[0, 0, 9, 9], x[0, 1, 5, 5] = float("inf"), float("-inf"), float("nan")
    for k in (3, 5):
        ours, ref = median_filter(x, k), reference_median(x, k)
        assert torch.equal(torch.isnan(ours), torch.isnan(ref))
        assert torch.equal(ours.nan_to_num(nan=7.0), ref.nan_to_num(nan=7.0))


def test_networks_select_the_middle_rank_of_every_ordering_of_distinct_values():
    # every comparator network is tried on windows holding a random permutation of 0..k*k-1
    for k in KERNELS:
        perm = torch.stack([torch.randperm(k * k, generator=torch.Generator().manual_seed(s)) for s in range(64)])
        windows = perm.view(64, 1, k, k).float()
        out = median_filter(windows, k, "zeros")  # the centre pixel's window is the whole image
        assert torch.equal(out[:, 0, k // 2, k // 2], torch.full((64,), float(k * k // 2)))


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("padding", ["reflect", "replicate"])
def test_gradients_equal_torch_median_without_ties(k, padding):
    x = draw("continuous", (2, 2, 19, 26), seed=k)
    upstream = torch.randint(-3, 4, x.shape, generator=torch.Generator().manual_seed(1)).float()  # exact sums
    ours_x, ref_x = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = median_filter(ours_x, k, padding, rows_per_chunk=5)
    ref = reference_median(ref_x, k, padding)
    (ours * upstream).sum().backward()
    (ref * upstream).sum().backward()
    assert torch.equal(ours.detach(), ref.detach())
    assert torch.equal(ours_x.grad, ref_x.grad)


@pytest.mark.parametrize("k", [3, 5, 11])
def test_tied_gradients_differ_only_in_which_equal_pixel_gets_them(k):
    x = draw("four levels", (1, 3, 21, 18), seed=k)
    upstream = torch.randint(1, 5, x.shape, generator=torch.Generator().manual_seed(2)).float()
    grads = []
    for fn in (median_filter, reference_median):
        leaf = x.clone().requires_grad_(True)
        (fn(leaf, k) * upstream).sum().backward()
        grads.append(leaf.grad)
    ours, ref = grads
    assert not torch.equal(ours, ref)  # torch.median's tie choice is not row-major-first
    for value in x.unique():  # the gradient that reaches each value is the same
        mask = x == value
        assert torch.equal(ours[mask].sum(), ref[mask].sum()), float(value)


def test_tied_gradient_goes_to_the_first_median_pixel_in_row_major_window_order():
    x = draw("four levels", (1, 1, 6, 7), seed=3)
    k, r = 3, 1
    leaf = x.clone().requires_grad_(True)
    median_filter(leaf, k, "replicate").sum().backward()
    expected = torch.zeros(6, 7)
    for i in range(6):
        for j in range(7):
            cells = [(min(max(i + a, 0), 5), min(max(j + b, 0), 6)) for a in range(-r, r + 1) for b in range(-r, r + 1)]
            values = sorted(float(x[0, 0, y, z]) for y, z in cells)
            first = next(c for c in cells if float(x[0, 0, c[0], c[1]]) == values[len(values) // 2])
            expected[first] += 1
    assert torch.equal(leaf.grad[0, 0], expected)


def test_no_graph_without_grad_and_a_graph_with_it():
    x = draw("8-bit", (1, 3, 9, 9), seed=4)
    assert not median_filter(x, 3).requires_grad
    with torch.no_grad():
        assert not median_filter(x.requires_grad_(True), 3).requires_grad
    assert median_filter(x, 3).requires_grad


def test_bad_chunk_size():
    with pytest.raises(ValueError, match="rows_per_chunk"):
        median_filter(torch.rand(1, 1, 4, 4), 3, rows_per_chunk=0)
