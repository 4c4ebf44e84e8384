"""The API keeps its own OpenAPI contract: schemathesis generates requests from the schema
(valid ones and schema-violating ones) and runs every check on each response, against the
ASGI app with the fake embedder and API keys configured. Deterministic: derandomized
Hypothesis with a fixed number of examples per operation."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS

from qa.api import create_app
from qa.indexing.build import build_index
from qa.settings import Settings
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder

ADMIN_KEY = "admin-key-for-the-contract-test"
EXAMPLES = 150  # per operation (Hypothesis's max_examples); the phases add more
MIN_CASES = 1000  # across the schema, all methods included
ALL_CHECKS = CHECKS.get_all()  # schemathesis's --checks all


INDEX_DIR = Path(tempfile.mkdtemp(prefix="qa-contract-")) / "index"
SETTINGS = Settings(
    corpus_dir=SEED_CORPUS,
    index_dir=INDEX_DIR,
    max_chunk_tokens=48,
    chunk_overlap_tokens=8,
    api_keys=f"admin:{ADMIN_KEY},query:query-key-for-the-contract-test",
)
APP = create_app(SETTINGS, load_on_startup=False)  # the schema is read at import; the index loads below
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
cases: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _serving_index():  # type: ignore[no-untyped-def]
    build_index(SEED_CORPUS, INDEX_DIR, FakeEmbedder(), FAKE_CHUNKING)
    APP.state.holder.load(SETTINGS, FakeEmbedder())  # /admin/reload reloads with the fake too
    assert APP.state.holder.service is not None, APP.state.holder.error
    yield
    shutil.rmtree(INDEX_DIR.parent, ignore_errors=True)
    operations = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}
    if operations <= set(cases):  # the whole schema ran (not a -k selection): enough cases?
        assert sum(cases.values()) >= MIN_CASES, f"only {sum(cases.values())} cases: {dict(cases)}"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_contract(case: schemathesis.Case) -> None:
    cases[f"{case.method} {case.path}"] += 1
    case.call_and_validate(headers={"X-API-Key": ADMIN_KEY}, checks=ALL_CHECKS)
