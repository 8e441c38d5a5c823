import hashlib

import pytest
import torch

from iqa_core import weights
from iqa_core.weights import ChecksumError, WeightsNotFoundError, WeightSpec


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("IQA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IQA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path


def _checkpoint(tmp_path):
    src = tmp_path / "model.pth"
    torch.save({"w": torch.arange(4.0)}, src)
    return src, hashlib.sha256(src.read_bytes()).hexdigest()


def test_download_verifies_and_caches(home):
    src, digest = _checkpoint(home)
    spec = WeightSpec("toy", src.as_uri(), digest)
    path = weights.fetch(spec, progress=False)
    assert path == weights.cache_dir() / "model.pth" and path.is_file()
    assert torch.equal(weights.load_checkpoint(path)["w"], torch.arange(4.0))
    src.unlink()  # now served from the cache
    assert weights.fetch(spec, progress=False) == path


def test_checksum_mismatch_leaves_no_file(home):
    src, _ = _checkpoint(home)
    spec = WeightSpec("toy", src.as_uri(), "0" * 64)
    with pytest.raises(ChecksumError, match="discarded"):
        weights.fetch(spec, progress=False)
    assert not any(weights.cache_dir().iterdir())  # no final file, no .part file


def test_corrupt_cache_entry_is_replaced(home):
    src, digest = _checkpoint(home)
    spec = WeightSpec("toy", src.as_uri(), digest)
    cached = weights.cache_dir() / "model.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a file")
    assert weights.sha256_of(weights.fetch(spec, progress=False)) == digest


def test_offline_error_says_what_to_do(home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = WeightSpec("linearity", "https://example.invalid/p1q2.pth", "a" * 64, cli="iqa-metrics")
    with pytest.raises(WeightsNotFoundError, match="iqa-metrics download linearity"):
        weights.fetch(spec)


def test_offline_error_without_a_command_line_names_only_the_url(home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = WeightSpec("plugin-net", "https://example.invalid/net.pth", "a" * 64)
    with pytest.raises(WeightsNotFoundError) as caught:
        weights.fetch(spec)
    assert "fetch https://example.invalid/net.pth" in str(caught.value)
    assert "download plugin-net" not in str(caught.value)


def test_unreachable_url_is_a_clear_error(home):
    spec = WeightSpec("toy", (home / "missing.pth").as_uri(), "a" * 64)
    with pytest.raises(WeightsNotFoundError, match="could not download"):
        weights.fetch(spec, progress=False)


def test_local_path_override(home):
    src, digest = _checkpoint(home)
    spec = WeightSpec("toy", "https://example.invalid/x.pth", digest)
    assert weights.fetch(spec, path=src) == src
    with pytest.raises(ChecksumError):
        weights.fetch(WeightSpec("toy", "https://example.invalid/x.pth", "b" * 64), path=src)
    assert weights.fetch(WeightSpec("toy", "u", "b" * 64), path=src, check=False) == src
    with pytest.raises(WeightsNotFoundError, match="not found at"):
        weights.fetch(spec, path=home / "nope.pth")


def test_cache_dir_honours_torch_home(monkeypatch, tmp_path):
    monkeypatch.delenv("IQA_HOME", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert weights.cache_dir() == tmp_path / "iqa" / "weights"


def test_load_checkpoint_refuses_pickled_code(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"f": print}, bad)  # a pickled callable: not allowed with weights_only=True
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        weights.load_checkpoint(bad)


def test_unpublished_hash_is_trusted_on_first_use_then_checked(home):
    src, digest = _checkpoint(home)
    spec = WeightSpec("toy", src.as_uri(), None)
    path = weights.fetch(spec, progress=False)
    record = path.with_name(path.name + ".sha256")
    assert record.read_text().strip() == digest
    assert weights.fetch(spec, progress=False) == path  # served from the cache, hash matches the record
    path.write_bytes(b"tampered")  # a changed cache file no longer matches the record: refused, not replaced
    tampered = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(ChecksumError) as info:
        weights.fetch(spec, progress=False)
    message = str(info.value)
    assert str(path) in message and digest in message and tampered in message and "To fix" in message
    assert path.read_bytes() == b"tampered" and record.read_text().strip() == digest  # nothing silently rewritten


def test_hand_placed_file_without_hash_is_recorded_on_first_use_and_checked_after(home, capsys):
    """Regression (issue 13, defect 13): a cache file with no published hash is verified on every later use."""
    src, digest = _checkpoint(home)
    spec = WeightSpec("toy", "https://example.invalid/model.pth", None)
    target = weights.cache_dir() / "model.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(src.read_bytes())
    assert weights.check_recorded(spec, target) == target  # first use: trusted and recorded
    record = target.with_name("model.pth.sha256")
    assert record.read_text().strip() == digest and "trusting this file on first use" in capsys.readouterr().err
    assert weights.fetch(spec, progress=False) == target  # later uses: checked against the record
    target.write_bytes(b"another file")
    with pytest.raises(ChecksumError, match=r"changed since they were first used.*re-record it") as info:
        weights.check_recorded(spec, target, replace_hint="re-record it")
    assert digest in str(info.value) and hashlib.sha256(b"another file").hexdigest() in str(info.value)


def test_copy_into_cache_records_unpublished_hash(home):
    src, digest = _checkpoint(home)
    spec = WeightSpec("toy", "https://example.invalid/model.pth", None)
    target = weights.copy_into_cache(spec, src)
    record = target.with_name(target.name + ".sha256")
    assert record.read_text().strip() == digest
    other = home / "other.pth"
    torch.save({"w": torch.ones(2)}, other)
    weights.copy_into_cache(spec, other)  # the explicit way to replace a cached file: re-recorded
    assert record.read_text().strip() == weights.sha256_of(other) == weights.sha256_of(target)
    assert weights.copy_into_cache(spec, target) == target  # the cached file itself: hash recorded again
    assert weights.fetch(spec, progress=False) == target
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".part")]


def test_a_checkpoint_with_nan_weights_is_refused_naming_the_keys(tmp_path):
    import torch

    from iqa_core.weights import CorruptWeightsError, load_checkpoint

    good = {"model": {"conv.weight": torch.ones(2, 2), "bn.num_batches_tracked": torch.tensor(3)}, "k": [1.0]}
    torch.save(good, tmp_path / "good.pt")
    assert load_checkpoint(tmp_path / "good.pt")["model"]["conv.weight"].sum() == 4
    bad = {"model": {"conv.weight": torch.full((2, 2), float("nan")), "fc.bias": torch.tensor([float("inf")])}}
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(CorruptWeightsError, match=r"NaN or infinite values in model\.conv\.weight, model\.fc\.bias"):
        load_checkpoint(tmp_path / "bad.pt")
    assert load_checkpoint(tmp_path / "bad.pt", check_finite=False)["model"]["fc.bias"].isinf().all()
