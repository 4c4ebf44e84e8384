"""Drug names the corpus does not contain, from a maintained dictionary: the one bundled with
``drug-named-entity-recognition`` (MIT; names and synonyms from MeSH, Wikipedia and the NHS,
brand names mapped to generic names).

Two uses, both decided at index time and stored in the lexicon:

- **brand and other names for the corpus's drugs**: if the corpus has a page on atorvastatin that
  never says "Lipitor", the dictionary's synonyms become aliases, so a question about Lipitor
  finds it;
- **drugs the corpus lacks**: every dictionary name none of whose synonyms occurs in the corpus.
  A question naming one (and no drug the corpus has) is about a drug the service cannot answer
  for, which the match signal says.

The dictionary file is a bz2 pickle; it is read with an unpickler that refuses every class (plain
dicts, lists and strings only), and the package's own module is never imported (it reads a
pickle cache from the home directory and can call web APIs).
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "drug_named_entity_recognition"
DATA_FILE = "drug_ner_dictionary.pkl.bz2"
MIN_LETTERS = 4  # shorter dictionary entries ("ms", "all") are too ambiguous to act on


class _PlainData(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"the drug dictionary may hold plain data only, not {module}.{name}")


def dictionary_file() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DATA_FILE
    return path if path.is_file() else None


@dataclass(frozen=True)
class DrugDictionary:
    groups: dict[str, frozenset[str]]  # canonical name -> every name of it (lower case)
    canonical: dict[str, tuple[str, ...]]  # any name -> its canonical name(s)

    @classmethod
    def from_variants(cls, variants: Mapping[str, Iterable[str]]) -> DrugDictionary:
        groups: dict[str, set[str]] = {}
        canonical: dict[str, tuple[str, ...]] = {}
        for variant, names in variants.items():
            key = " ".join(variant.casefold().split())
            if sum(c.isalpha() for c in key) < MIN_LETTERS:
                continue
            names = tuple(" ".join(n.casefold().split()) for n in names)
            canonical[key] = names
            for name in names:
                groups.setdefault(name, {name}).add(key)
        return cls({name: frozenset(members) for name, members in groups.items()}, canonical)

    def synonyms(self, name: str) -> frozenset[str]:
        """Every dictionary name of the drug(s) ``name`` names (empty if it is not a drug name)."""
        return frozenset().union(*(self.groups.get(c, frozenset()) for c in self.canonical.get(name, ())))


@functools.cache
def load_dictionary() -> DrugDictionary | None:
    """The bundled dictionary, or None when the package is not installed."""
    path = dictionary_file()
    if path is None:
        return None
    with bz2.open(path) as handle:
        data = _PlainData(handle).load()
    return DrugDictionary.from_variants(data["drug_variant_to_canonical"])
