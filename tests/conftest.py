from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from qa.indexing.build import build_index
from qa.indexing.chunking import ChunkSettings
from qa.indexing.storage import load_index
from qa.serving.service import QAService
from qa.settings import Settings
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
# Optional development data; .ci/run points MEDQUAD_DIR at it when the checkout has one beside it.
MEDQUAD = Path(os.environ.get("MEDQUAD_DIR") or ROOT.parent / "shared" / "data" / "medquad")


# ------------------------------------------------------------------ offline guard
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"tests run offline: blocked a connection to {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> None:
    """The whole suite runs offline: any connection off the loopback interface fails."""
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


# ------------------------------------------------------------------ fake embedder
@pytest.fixture()
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


FAKE_CHUNKING = ChunkSettings(max_tokens=48, overlap_tokens=8, sentence_view=True)


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed corpus indexed with the fake embedder (built once per session)."""
    target = tmp_path_factory.mktemp("fake-index") / "index"
    build_index(SEED_CORPUS, target, FakeEmbedder(), FAKE_CHUNKING)
    return target


@pytest.fixture()
def fake_service(fake_index_dir: Path) -> QAService:
    return QAService(load_index(fake_index_dir), FakeEmbedder())


@pytest.fixture()
def fake_settings(fake_index_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        corpus_dir=SEED_CORPUS,
        index_dir=fake_index_dir,
        max_chunk_tokens=48,
        chunk_overlap_tokens=8,
        sentence_view=True,  # as FAKE_CHUNKING: the fake index keeps the sentence view for its ablations
        data_dir=tmp_path / "data",
    )


@pytest.fixture()
def client(fake_settings: Settings, fake_service: QAService):
    """The API with the fake-embedder service injected through FastAPI's dependency override."""
    from fastapi.testclient import TestClient

    from qa.api import create_app, get_service

    app = create_app(fake_settings, load_on_startup=False)
    app.dependency_overrides[get_service] = lambda: fake_service
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# ------------------------------------------------------------------ real model
@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this test session exports the bundled model to ONNX (once)."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def real_embedder(onnx_cache: Path):
    """The real all-MiniLM-L6-v2 behind the default encoder (ONNX Runtime)."""
    from qa.serving.service import make_embedder

    return make_embedder(Settings(cache_dir=onnx_cache))


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    target = tmp_path_factory.mktemp("real-index") / "index"
    build_index(SEED_CORPUS, target, real_embedder, ChunkSettings(real_embedder.max_tokens, 32))
    return target


@pytest.fixture(scope="session")
def real_service(real_index_dir: Path, real_embedder) -> QAService:
    return QAService(load_index(real_index_dir), real_embedder)


@pytest.fixture(scope="session")
def medquad() -> Path:
    if not (MEDQUAD / "corpus").is_dir():
        pytest.skip(f"MedQuAD data not found at {MEDQUAD} (optional development data set)")
    return MEDQUAD


# ------------------------------------------------------------------ browser
ARTIFACTS = Path(os.environ.get("QA_TEST_ARTIFACTS") or ROOT / "test-artifacts")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium (never a downloaded browser). CI must have it: there, its absence fails."""
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Debian's chromium is not installed (no `chromium` on PATH); `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: the browser tests must run in CI")
        pytest.skip(message)
    return path


@pytest.fixture()
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a test saves files worth keeping (screenshots): test-artifacts/<test name>/."""
    target = ARTIFACTS / request.node.name
    target.mkdir(parents=True, exist_ok=True)
    return target
