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


def test_parameter_problems_follow_the_annotations():
    from iqa_core.validation import parameter_problems

    def factory(eps: float = 4 / 255, iterations: int = 10, alpha: float | None = None, name: str = "x") -> None:
        return None

    assert parameter_problems(factory, {"eps": 8 / 255, "iterations": 3, "alpha": None, "name": "y"}) == []
    assert parameter_problems(factory, {"eps": 1}) == []  # an int is a number
    problems = parameter_problems(factory, {"iterations": 2.5, "eps": float("nan"), "alpha": "big", "steps": 1})
    assert "iterations: expected an integer, got 2.5" in problems
    assert "eps: expected a finite number, got nan" in problems
    assert "alpha: expected a number, got 'big'" in problems
    assert "steps: no such parameter; its parameters: eps, iterations, alpha, name" in problems
    assert parameter_problems(factory, {"iterations": True}) == ["iterations: expected a number, got True"]


def test_registry_refuses_impossible_parameters_with_the_component_named():
    from iqa_core import registry
    from iqa_core.testing import ToySignAttack
    from iqa_core.validation import ParameterError

    registry.register("attack", "validation-toy-sign", ToySignAttack, replace=True)
    try:
        with pytest.raises(ParameterError, match="cannot create attack 'validation-toy-sign': eps: expected a number"):
            registry.create("attack", "validation-toy-sign", eps="8/255")
        with pytest.raises(ValueError, match=r"at most 1, got 2.0 \(for 2/255 pass 0.00784314\)"):
            registry.create("attack", "validation-toy-sign", eps=2.0)
    finally:
        registry.unregister("attack", "validation-toy-sign")
