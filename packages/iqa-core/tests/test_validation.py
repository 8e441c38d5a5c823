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
