"""The failure matrix: a corrupt index is refused with the file and the remedy; a build killed
with SIGKILL at any of six moments leaves the previous index loadable, and the next build
leaves no temporary directory; a full disk during a build leaves the old index intact."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli
from qa.cli.common import CliContext
from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.indexing.build import build_index
from qa.indexing.manifest import MANIFEST
from qa.indexing.storage import load_index
from qa.serving.service import QAService
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder


# ------------------------------------------------------------------ five kinds of corruption
def truncate_faiss(index: Path) -> str:
    data = (index / "index.faiss").read_bytes()
    (index / "index.faiss").write_bytes(data[: len(data) // 3])
    return "index.faiss"


def edit_a_chunk_line(index: Path) -> str:
    path = index / "chunks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    row = json.loads(lines[3])
    row["text"] = row["text"].replace("e", "a", 1)  # same length: only the checksum can tell
    lines[3] = json.dumps(row, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    return "chunks.jsonl"


def remove_manifest(index: Path) -> str:
    (index / MANIFEST).unlink()
    return MANIFEST


def remove_bm25_arrays(index: Path) -> str:
    for array in (index / "bm25").glob("*.npy"):
        array.unlink()
    return "bm25/"


def manifest_of_another_model(index: Path) -> str:
    manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    manifest["model"]["id"] = "sentence-transformers/all-mpnet-base-v2"
    (index / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return "all-mpnet-base-v2"


@pytest.mark.parametrize(
    "corrupt", [truncate_faiss, edit_a_chunk_line, remove_manifest, remove_bm25_arrays, manifest_of_another_model]
)
def test_corrupt_index_is_refused_naming_the_file_and_the_remedy(fake_index_dir: Path, tmp_path: Path, corrupt) -> None:
    index = tmp_path / "index"
    shutil.copytree(fake_index_dir, index)
    named = corrupt(index)
    with pytest.raises((IndexCorruptError, IndexNotFoundError, IndexMismatchError)) as refused:
        QAService(load_index(index), FakeEmbedder())
    message = str(refused.value)
    assert named in message
    assert f"qa index --index {index}" in message  # the remedy, with the path to use


# ------------------------------------------------------------------ SIGKILL during a build
class DyingEmbedder(FakeEmbedder):
    def embed(self, texts):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGKILL)


def _die_after(module: object, name: str, calls_before: int = 0) -> None:
    """Make ``module.name`` SIGKILL the process on its call number ``calls_before + 1``,
    before doing anything."""
    original = getattr(module, name)
    seen = [0]

    def dying(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen[0] += 1
        if seen[0] > calls_before:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(module, name, dying)


def build_and_die(corpus: str, index: str, moment: str) -> None:
    """Runs in a fresh process: build, and SIGKILL itself at ``moment``."""
    import faiss

    from qa.indexing import atomic, storage
    from qa.indexing.bm25 import Bm25Index

    embedder = FakeEmbedder()
    if moment == "embedding":
        embedder = DyingEmbedder()
    elif moment == "first file written":
        _die_after(faiss, "write_index", calls_before=1)  # dies on the call after the FAISS file
    elif moment == "bm25 half written":
        _die_after(Bm25Index, "save")
    elif moment == "before the manifest":
        _die_after(storage, "file_checksums")
    elif moment == "at the swap":
        _die_after(atomic, "exchange")
    elif moment == "between two renames":  # a file system without RENAME_EXCHANGE
        atomic.exchange = lambda a, b: False  # type: ignore[assignment]
        _die_after(atomic.os, "rename", calls_before=1)
    build_index(Path(corpus), Path(index), embedder, FAKE_CHUNKING)


MOMENTS = [
    "embedding",
    "first file written",
    "bm25 half written",
    "before the manifest",
    "at the swap",
    "between two renames",
]


def leftovers(index: Path) -> list[str]:
    """Temporary and old directories (or anything else) a build left beside the index."""
    return sorted(p.name for p in index.parent.iterdir() if p.name.startswith(f".{index.name}."))


def built_then_edited(tmp_path: Path) -> tuple[Path, Path, str]:
    """A copy of the seed corpus, its index (whose fingerprint is returned), then one document
    edited, so that the next build has work to do."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SEED_CORPUS, corpus)
    build_index(corpus, index, FakeEmbedder(), FAKE_CHUNKING)
    first = sorted(corpus.rglob("*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n\n## Storage\n\nKeep it dry.\n", encoding="utf-8")
    return corpus, index, load_index(index).fingerprint


def test_sigkill_at_any_moment_leaves_the_previous_index_loadable(tmp_path: Path) -> None:
    corpus, index, before = built_then_edited(tmp_path)
    spawn = multiprocessing.get_context("spawn")  # no fork of a threaded test process
    debris: set[str] = set()
    for moment in MOMENTS:
        child = spawn.Process(target=build_and_die, args=(str(corpus), str(index), moment))
        child.start()
        child.join(120)
        assert child.exitcode == -signal.SIGKILL, f"{moment}: the build was not killed ({child.exitcode})"
        debris |= set(leftovers(index))
        assert load_index(index).fingerprint == before, moment  # the previous index, whole
    assert any(".building-" in name for name in debris) and any(".old-" in name for name in debris)
    build_index(corpus, index, FakeEmbedder(), FAKE_CHUNKING)
    assert load_index(index).fingerprint != before
    assert leftovers(index) == []  # the next build removed what the dead ones left


# ------------------------------------------------------------------ a full disk
def test_full_disk_during_a_build_leaves_the_old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index, before = built_then_edited(tmp_path)

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[-1]))

    monkeypatch.setattr("qa.indexing.storage.Lexicon.save", no_space)
    fake = CliContext(make_embedder=lambda settings: FakeEmbedder(max_tokens=48))
    monkeypatch.setenv("QA_MAX_CHUNK_TOKENS", "48")
    monkeypatch.setenv("QA_CHUNK_OVERLAP_TOKENS", "8")
    result = CliRunner().invoke(cli.main, ["index", "--corpus", str(corpus), "--index", str(index), "-q"], obj=fake)
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "unchanged" in result.output
    assert "Traceback" not in result.output
    assert load_index(index).fingerprint == before
    assert leftovers(index) == []


def test_a_failed_second_rename_puts_the_old_index_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without atomic exchange, a swap is two renames; if the second fails the first is undone."""
    from qa.indexing import atomic

    corpus, index, before = built_then_edited(tmp_path)
    real_rename, calls = os.rename, []

    def second_fails(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(b))
        return real_rename(a, b)

    monkeypatch.setattr(atomic, "exchange", lambda a, b: False)
    monkeypatch.setattr(atomic.os, "rename", second_fails)
    with pytest.raises(OSError, match="No space left"):
        build_index(corpus, index, FakeEmbedder(), FAKE_CHUNKING)
    monkeypatch.setattr(atomic.os, "rename", real_rename)
    assert load_index(index).fingerprint == before
    assert leftovers(index) == []


def test_a_symlinked_index_directory_keeps_its_link(tmp_path: Path) -> None:
    corpus, index, before = built_then_edited(tmp_path)
    link = tmp_path / "current"
    link.symlink_to(index)
    build_index(corpus, link, FakeEmbedder(), FAKE_CHUNKING)
    assert link.is_symlink() and load_index(link).fingerprint != before
    assert leftovers(index) == [] and leftovers(link) == []
