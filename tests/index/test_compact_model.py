"""The fine-tuned encoder stored as its difference from the packaged model (index.compact_model)."""

import lzma

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from index import compact_model
from index.compact_model import DELTA_FILE, WEIGHTS_FILE, CompactModelError, compact, ensure_weights, expand


@pytest.fixture
def models(tmp_path):
    """A small 'packaged' model and a 'fine-tuned' one a little away from it, in float16."""
    rng = np.random.default_rng(0)
    base = {"encoder.weight": rng.normal(0, 0.05, (96, 128)).astype(np.float32),
            "encoder.bias": rng.normal(0, 0.05, 128).astype(np.float32),
            "position_ids": np.arange(8, dtype=np.int64)}
    base_path = tmp_path / "base.safetensors"
    save_file(base, str(base_path))
    tuned = {"encoder.weight": (base["encoder.weight"] + rng.normal(0, 0.002, (96, 128))).astype(np.float16),
             "encoder.bias": (base["encoder.bias"] + 0.01).astype(np.float16)}
    tuned["encoder.weight"][5] = base["encoder.weight"][5].astype(np.float16)  # a row training never moved
    model_dir = tmp_path / "encoder"
    model_dir.mkdir()
    save_file(tuned, str(model_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    (model_dir / "config.json").write_text("{}")
    return model_dir, base_path, tuned


def test_the_rebuilt_weights_are_within_half_a_step_of_the_trained_ones(models):
    model_dir, base, tuned = models
    compact(model_dir, base)
    (model_dir / WEIGHTS_FILE).unlink()
    ensure_weights(model_dir, base)
    rebuilt = load_file(str(model_dir / WEIGHTS_FILE))
    assert set(rebuilt) == set(tuned) and all(rebuilt[n].dtype == np.float16 for n in rebuilt)
    difference = tuned["encoder.weight"].astype(np.float32) - load_file(str(base))["encoder.weight"]
    step = difference.std(axis=1, keepdims=True) / compact_model.STEPS_PER_STD
    error = np.abs(rebuilt["encoder.weight"].astype(np.float32) - tuned["encoder.weight"].astype(np.float32))
    # half a step of rounding, plus float16's own rounding of the sum
    assert (error <= step / 2 + np.abs(tuned["encoder.weight"]).astype(np.float32) * 2 ** -10 + 1e-7).all()
    assert error.max() > 0  # it is a compression, not a copy
    np.testing.assert_array_equal(rebuilt["encoder.weight"][5], tuned["encoder.weight"][5])
    # small tensors are kept whole, in float16
    np.testing.assert_allclose(rebuilt["encoder.bias"], tuned["encoder.bias"], atol=2e-4)


def test_the_delta_is_smaller_than_the_model(models):
    model_dir, base, _ = models
    delta = compact(model_dir, base)
    assert delta.name == DELTA_FILE and delta.stat().st_size < 0.6 * (model_dir / WEIGHTS_FILE).stat().st_size


def test_weights_are_rebuilt_only_when_missing_or_made_from_another_delta(models):
    model_dir, base, _ = models
    compact(model_dir, base)
    expand(model_dir, base)
    weights = model_dir / WEIGHTS_FILE
    before = weights.stat().st_mtime_ns
    ensure_weights(model_dir, base)
    assert weights.stat().st_mtime_ns == before
    # a new delta (retrained, or checked out) makes the weights stale
    tuned = load_file(str(weights))
    tuned["encoder.bias"] = tuned["encoder.bias"] + np.float16(0.5)
    save_file(tuned, str(weights), metadata={"format": "pt"})
    compact(model_dir, base)
    weights.write_bytes(b"stale")
    ensure_weights(model_dir, base)
    np.testing.assert_allclose(load_file(str(weights))["encoder.bias"], tuned["encoder.bias"], atol=1e-3)


def test_a_folder_without_a_delta_is_left_alone(models):
    model_dir, base, _ = models
    before = (model_dir / WEIGHTS_FILE).read_bytes()
    assert ensure_weights(model_dir, base) == model_dir
    assert (model_dir / WEIGHTS_FILE).read_bytes() == before


def test_the_fingerprint_is_the_delta_s_not_the_rebuilt_weights(models):
    from index.embed import fingerprint_model_dir

    model_dir, base, _ = models
    compact(model_dir, base)
    (model_dir / WEIGHTS_FILE).unlink()
    unbuilt = fingerprint_model_dir(model_dir)
    ensure_weights(model_dir, base)
    assert fingerprint_model_dir(model_dir) == unbuilt
    (model_dir / DELTA_FILE).write_bytes(lzma.compress(b"another"))
    assert fingerprint_model_dir(model_dir) != unbuilt


def test_another_base_model_is_refused_by_name(models, tmp_path):
    model_dir, base, _ = models
    compact(model_dir, base)
    other = tmp_path / "other.safetensors"
    save_file({"encoder.weight": np.zeros((96, 128), np.float32), "encoder.bias": np.zeros(128, np.float32)}, str(other))
    with pytest.raises(CompactModelError, match=r"delta\.safetensors\.xz is a difference from other .*make install"):
        expand(model_dir, other)


def test_a_damaged_delta_is_refused_by_name(models):
    model_dir, base, _ = models
    compact(model_dir, base)
    (model_dir / DELTA_FILE).write_bytes(b"not xz")
    (model_dir / WEIGHTS_FILE).unlink()
    with pytest.raises(CompactModelError, match=r"delta\.safetensors\.xz cannot be read .*git checkout"):
        ensure_weights(model_dir, base)


def test_a_model_of_another_shape_cannot_be_compacted(models, tmp_path):
    model_dir, _, _ = models
    other = tmp_path / "other.safetensors"
    save_file({"encoder.weight": np.zeros((4, 4), np.float32)}, str(other))
    with pytest.raises(CompactModelError, match="tensor 'encoder.(weight|bias)' is not in .* with the same shape"):
        compact(model_dir, other)


def test_weights_that_cannot_be_written_are_refused_by_name(models, monkeypatch):
    model_dir, base, _ = models
    compact(model_dir, base)
    (model_dir / WEIGHTS_FILE).unlink()

    def read_only(path, data):
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(compact_model, "_write_atomically", read_only)
    with pytest.raises(CompactModelError, match=r"cannot write .*model\.safetensors .*Read-only file system.*make install"):
        ensure_weights(model_dir, base)
