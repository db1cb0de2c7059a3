"""Damaged pretrained files never load silently: each is a ValueError naming the file (issue 11, failure 5)."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from workshop import pretrained

NAME = "vae_mnist_z2"


@pytest.fixture()
def copy(tmp_path):
    """A private copy of one shipped model, to damage."""
    for suffix in (".json", ".npz"):
        shutil.copy(pretrained.PRETRAINED_DIR / f"{NAME}{suffix}", tmp_path / f"{NAME}{suffix}")
    return tmp_path


def _rehash(directory):
    """Record the (damaged) weights' sha256, so that a later check is the one that fires."""
    meta_path = directory / f"{NAME}.json"
    meta = json.loads(meta_path.read_text())
    meta["weights"]["sha256"] = hashlib.sha256((directory / f"{NAME}.npz").read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))


def test_shipped_json_files_record_the_sha256_of_their_weights():
    for name in pretrained.available():
        recorded = pretrained.describe(name)["weights"]["sha256"]
        assert recorded == hashlib.sha256((pretrained.PRETRAINED_DIR / f"{name}.npz").read_bytes()).hexdigest()


def test_changed_weights_are_refused(copy):
    path = copy / f"{NAME}.npz"
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["w000"] = arrays["w000"] * np.float16(1.01)  # same shapes, same keys, wrong numbers
    np.savez_compressed(path, **arrays)
    with pytest.raises(ValueError, match=rf"{NAME}\.npz: the weights do not match the sha256 recorded"):
        pretrained.load_pretrained(NAME, directory=copy)


def test_renamed_array_is_refused(copy):
    path = copy / f"{NAME}.npz"
    with np.load(path) as archive:
        arrays = {("x000" if k == "w000" else k): archive[k] for k in archive.files}
    np.savez_compressed(path, **arrays)
    _rehash(copy)
    with pytest.raises(ValueError, match=rf"{NAME}\.npz: expected arrays w000"):
        pretrained.load_pretrained(NAME, directory=copy)


@pytest.mark.parametrize("rehash", [False, True], ids=["hash-checked", "archive-checked"])
def test_truncated_weights_are_refused(copy, rehash):
    path = copy / f"{NAME}.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    if rehash:
        _rehash(copy)
    with pytest.raises(ValueError, match=rf"{NAME}\.npz: "):
        pretrained.load_pretrained(NAME, directory=copy)


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"config": {"latent_dim": 2', "not valid JSON"),
        ('{"weights": {"sha256": "00"}}', "a `config` object"),
        ('{"config": {"latent_dim": 2}, "weights": {}}', "a `weights.sha256` string"),
        ('{"config": {"latent_dim": 2, "colour": "red"}, "weights": {"sha256": "%s"}}', "not a valid VAE configuration"),
    ],
)
def test_broken_json_is_refused(copy, text, match):
    if "%s" in text:
        text = text % hashlib.sha256((copy / f"{NAME}.npz").read_bytes()).hexdigest()
    (copy / f"{NAME}.json").write_text(text)
    with pytest.raises(ValueError, match=rf"{NAME}\.json: .*{match}"):
        pretrained.load_pretrained(NAME, directory=copy)


def test_export_records_the_sha256_that_the_loader_verifies(tmp_path):
    from workshop.instructor.export import export
    from workshop.models import VAE

    run = tmp_path / "run"
    run.mkdir()
    VAE(latent_dim=2, hidden_units=(8,), seed=1).save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"config": {"latent_dim": 2, "hidden_units": [8]}, "status": "complete"}))
    with np.load(pretrained.PRETRAINED_DIR.parent / "data" / "mnist_sample.npz") as data:
        np.savez(tmp_path / "mnist.npz", **{k: data[k][:32] for k in ("x_train", "y_train", "x_test", "y_test")})
    meta = export(run, "tiny", output_dir=tmp_path / "out", data=tmp_path / "mnist.npz")
    assert meta["weights"]["sha256"] == hashlib.sha256((tmp_path / "out" / "tiny.npz").read_bytes()).hexdigest()
    assert meta["training"]["command"] == "python -m workshop train --latent-dim 2 --hidden-units 8"
    pretrained.load_pretrained("tiny", directory=tmp_path / "out")
