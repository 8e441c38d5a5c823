import pytest
import torch

from iqa_core import ImageContractError, check_images


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.rand(3, 8, 8), "unsqueeze"),
        (torch.rand(1, 8, 8, 3), "permute"),
        (torch.rand(1, 1, 8, 8), "grayscale"),
        (torch.randint(0, 255, (1, 3, 8, 8), dtype=torch.uint8), "/ 255"),
        (torch.rand(1, 3, 8, 8) * 255, "divide by 255"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_images_get_actionable_errors(bad, message):
    with pytest.raises(ImageContractError, match=message):
        check_images(bad)


def test_valid_images_pass_through():
    x = torch.rand(2, 3, 8, 8)
    assert check_images(x) is x


def test_nan_and_infinite_pixels_are_refused_even_for_noisy_inputs():
    import torch

    from iqa_core.validation import ImageContractError, check_images, noisy_inputs

    images = torch.rand(2, 3, 8, 8)
    images[1, 0, 0, 0] = float("nan")
    images[0, 2, 3, 3] = float("inf")
    with pytest.raises(ImageContractError, match="2 NaN or infinite"):
        check_images(images)
    with noisy_inputs(), pytest.raises(ImageContractError, match="NaN or infinite"):
        check_images(images)
    with pytest.raises(ImageContractError, match="NaN or infinite"):
        check_images(images, check_range="finite")


def test_noisy_inputs_admit_values_outside_the_unit_range_only_inside_the_block():
    import torch

    from iqa_core.validation import ImageContractError, check_images, noisy_inputs

    noisy = torch.rand(1, 3, 8, 8) + torch.randn(1, 3, 8, 8)
    with noisy_inputs():
        assert check_images(noisy) is noisy
    assert check_images(noisy, check_range="finite") is noisy
    with pytest.raises(ImageContractError, match=r"must lie in \[0, 1\]"):
        check_images(noisy)
    with pytest.raises(ImageContractError, match="0-255 values"):
        check_images(torch.rand(1, 3, 4, 4) * 255)
