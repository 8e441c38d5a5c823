"""The offline demo dataset: deterministic, labelled by a documented synthetic score, exportable."""

import itertools

import numpy as np
import pytest
import torch

from iqa_bench import datasets
from iqa_bench.demo import (
    DEFAULT_SIZE,
    DEMO_REFERENCES,
    DISTORTIONS,
    TRAIN_REFERENCES,
    demo_dataset,
    read_demo_folder,
    synthetic_mos,
    write_demo_folder,
)

SMALL = {"references": ["astronaut"], "levels": [1, 3, 5]}


def test_same_arguments_give_the_same_bytes():
    a, b = demo_dataset(**SMALL), demo_dataset(**SMALL)
    assert [r.name for r in a] == [r.name for r in b]
    assert all(torch.equal(x.image, y.image) and x.mos == y.mos for x, y in zip(a, b, strict=True))


def test_seed_changes_only_the_random_draws():
    a = demo_dataset(references=["astronaut"], distortions=["white_noise", "gaussian_blur"], levels=[3], seed=0)
    b = demo_dataset(references=["astronaut"], distortions=["white_noise", "gaussian_blur"], levels=[3], seed=1)
    assert not torch.equal(a[0].image, b[0].image)  # noise differs
    assert torch.equal(a[1].image, b[1].image)  # blur does not


def test_images_follow_the_contract_and_default_size():
    records = demo_dataset(**SMALL, include_references=True)
    for record in records:
        assert record.image.shape == (3, *DEFAULT_SIZE) and record.image.dtype == torch.float32
        assert float(record.image.min()) >= 0 and float(record.image.max()) <= 1
        assert torch.equal(record.image, (record.image * 255).round() / 255)  # 8-bit levels, as a saved image
    assert records[0].distortion == "none" and records[0].mos == 100.0


def test_label_is_the_documented_ssim_score_and_falls_with_level():
    records = demo_dataset(references=["coffee"], levels=[1, 2, 3, 4, 5], include_references=True)
    reference = records[0].image[None]
    for record in records[1:3]:
        assert record.mos == pytest.approx(float(synthetic_mos(reference, record.image[None])[0]), abs=1e-4)
    monotone = 0
    for distortion in DISTORTIONS:
        scores = [r.mos for r in records if r.distortion == distortion]
        monotone += all(a >= b for a, b in itertools.pairwise(scores))
    assert monotone >= len(DISTORTIONS) - 1  # graded: stronger levels score lower (all but at most one type)


def test_train_and_demo_references_do_not_overlap():
    assert not set(TRAIN_REFERENCES) & set(DEMO_REFERENCES)


def test_folder_export_round_trip_and_generic_loader(tmp_path):
    records = demo_dataset(**SMALL)
    write_demo_folder(records, tmp_path)
    back = read_demo_folder(tmp_path)
    assert [r.name for r in back] == [r.name for r in records]
    assert all(torch.equal(x.image, y.image) for x, y in zip(back, records, strict=True))
    assert np.allclose([r.mos for r in back], [r.mos for r in records], atol=1e-6)
    items = datasets.folder(tmp_path, "mos.csv")  # the demo folder reads as any folder + CSV
    assert len(items) >= len(records)
    assert torch.equal(items[[i.id for i in items].index(f"{records[0].name}.png")].load(), records[0].image)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown demo references"):
        demo_dataset(references=["lena"])
    with pytest.raises(ValueError, match="levels"):
        demo_dataset(levels=[6])


def test_train_and_demo_references_come_from_different_source_images():
    from iqa_bench.demo import REFERENCES

    train_sources = {REFERENCES[name].source for name in TRAIN_REFERENCES}
    demo_sources = {REFERENCES[name].source for name in DEMO_REFERENCES}
    assert not train_sources & demo_sources
    # the two views of the stereo pair show one scene: both must sit on the same side
    assert {"stereo_motorcycle", "motorcycle_right"} <= train_sources


def test_default_dataset_is_six_references_by_four_distortions_by_five_levels():
    records = demo_dataset()
    assert len(records) == 6 * 4 * 5 and len({r.name for r in records}) == len(records)
    assert {r.reference for r in records} == set(DEMO_REFERENCES)
