from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import ConfigError
from qa.settings import load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.model == "all-MiniLM-L6-v2"
    assert settings.corpus_dir == Path("corpus")
    assert settings.index_dir == Path("index/default")


def test_environment_uses_the_qa_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_PORT", "9001")
    monkeypatch.setenv("QA_INDEX_DIR", "/tmp/somewhere")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.index_dir == Path("/tmp/somewhere")


def test_explicit_values_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_PORT", "9001")
    assert load_settings(port=9002).port == 9002


@pytest.mark.parametrize(
    ("env", "value", "fragment"),
    [
        ("QA_PORT", "0", "QA_PORT"),
        ("QA_PORT", "eighty", "QA_PORT='eighty'"),
        ("QA_DEVICE", "gpu", "unknown torch device 'gpu'"),
        ("QA_LOG_LEVEL", "loud", "unknown log level"),
        ("QA_MODEL", "   ", "must name a model"),
        ("QA_MAX_CHUNK_TOKENS", "8", "QA_MAX_CHUNK_TOKENS"),
        ("QA_CHUNK_OVERLAP_TOKENS", "200", "less than half"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert fragment in str(caught.value)
