"""A drug lexicon built from the corpus: names, their aliases, the documents about them.

Sources, per document:

- the title, when it is a name (not a question, at most 8 words): ``Pomalidomide``; the
  document *owns* that name;
- brand and other names in an "Alternate Names" / "Other names" / "Brand names" section:
  words marked ® or ™ (``Pomalyst®``, ``Imnovid®``) and the names listed after "also known
  as", "brand names include", "sold as";
- a name in parentheses after a name in any title: ``pomalidomide (Imnovid)`` makes
  Imnovid an alias of pomalidomide and ties that document to it (without owning it).

It also keeps the corpus vocabulary with each word's document frequency, so that recognition
(``qa.retrieval.recognition``) can tell an established word from a possible misspelling.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qa.indexing.drug_dictionary import DrugDictionary
from qa.ingest.documents import Document

LEXICON_FILE = "lexicon.json"
MAX_NAME_WORDS = 8
WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
MARKS = re.compile(r"[®™©]")
_ALIAS_SECTION = re.compile(r"alternate names?|other names?|brand names?|also known as|synonyms?|trade names?", re.I)
_MARKED = re.compile(r"([A-Z][\w-]*(?:\s[A-Z][\w-]*){0,2})\s?[®™]")
_LISTED = re.compile(
    r"(?:also known as|brand names? (?:include|includes|are|is)|sold (?:as|under)|marketed as)\s+([^.;\n]+)", re.I
)
_PARENTHESES = re.compile(r"([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*){0,5})\s*\(([^()]{2,60})\)")
STOP_WORDS = frozenset("the a an and or of in on for to with by is are do does you your my i what how".split())


def normalize(text: str) -> str:
    """Lower case, no ®/™, words separated by single spaces."""
    return " ".join(WORD.findall(MARKS.sub("", text).casefold()))


def letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def max_edits(name: str) -> int:
    n = letters(name)
    return 2 if n >= 8 else 1 if n >= 5 else 0


def is_abbreviation(text: str) -> bool:
    bare = MARKS.sub("", text).strip()
    return bare.isupper() and len(bare.replace("-", "")) <= 5


@dataclass
class Entity:
    name: str
    aliases: set[str] = field(default_factory=set)
    doc_ids: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)  # documents whose title is this name
    drug: bool | None = None  # a drug per the drug dictionary (None: no dictionary to tell)


def _is_name(title: str) -> bool:
    return bool(title) and not title.rstrip().endswith("?") and len(title.split()) <= MAX_NAME_WORDS


def _split_aliases(text: str) -> list[str]:
    parts = re.split(r",|;|\band\b|\bor\b|/", MARKS.sub("", text))
    cleaned = [re.sub(r"^(?:including|e\.g\.|such as|see)\s+", "", p.strip(" .:'\""), flags=re.I) for p in parts]
    return [p for p in cleaned if 0 < len(p.split()) <= 4]


class Lexicon:
    def __init__(
        self,
        entities: Iterable[Entity],
        vocabulary: Mapping[str, int] | Iterable[str] = (),
        *,
        documents: int = 0,
        absent_drugs: Iterable[str] = (),
    ) -> None:
        self.entities: dict[str, Entity] = {normalize(e.name): e for e in entities}
        # every word of the corpus, lower case, as written -> the number of documents it occurs in
        self.vocabulary: dict[str, int] = (
            dict(vocabulary) if isinstance(vocabulary, Mapping) else dict.fromkeys(vocabulary, 1)
        )
        self.documents = documents  # how many documents the vocabulary was counted over
        self.absent_drugs = frozenset(absent_drugs)  # drug names (lower case) the corpus never mentions

    def __len__(self) -> int:
        return len(self.entities)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_documents(cls, documents: Iterable[Document], dictionary: DrugDictionary | None = None) -> Lexicon:
        """The lexicon of ``documents``; with a drug ``dictionary``, also the dictionary's other names
        for the corpus's drugs (as aliases) and the drugs the corpus lacks."""
        docs = list(documents)
        entities: dict[str, Entity] = {}

        def entity(name: str) -> Entity:
            return entities.setdefault(normalize(name), Entity(name=name))

        for doc in docs:
            if _is_name(doc.title):
                named = entity(_PARENTHESES.sub(lambda m: m.group(1), doc.title).strip())
                named.doc_ids.add(doc.doc_id)
                named.owners.add(doc.doc_id)
        for doc in docs:
            for match in _PARENTHESES.finditer(doc.title):
                words, inside = match.group(1).split(), match.group(2)
                # The longest run of words before "(" that is already a name; else the last word.
                name = next(
                    (" ".join(words[i:]) for i in range(len(words)) if normalize(" ".join(words[i:])) in entities),
                    " ".join(words) if _is_name(doc.title) else words[-1],
                )
                if normalize(name) in STOP_WORDS:
                    continue
                target = entity(name)
                target.doc_ids.add(doc.doc_id)
                target.aliases.update(a for a in _split_aliases(inside) if normalize(a) != normalize(name))
            if not _is_name(doc.title):
                continue
            owner = entity(_PARENTHESES.sub(lambda m: m.group(1), doc.title).strip())
            for section in doc.sections:
                if not any(_ALIAS_SECTION.search(h) for h in section.headings):
                    continue
                text = section.body.text.replace("**", "")
                found = [m.group(1) for m in _MARKED.finditer(text)]
                for listed in _LISTED.finditer(text):
                    found += _split_aliases(listed.group(1))
                owner.aliases.update(a for a in found if normalize(a) and normalize(a) != normalize(owner.name))
        frequency: Counter[str] = Counter()
        for doc in docs:
            words = {w for s in doc.sections for w in normalize(" ".join([*s.headings, s.body.text])).split()}
            words |= set(normalize(doc.title).split())
            frequency.update(words | {part for w in words if "-" in w for part in w.split("-")})
        named = [e for e in entities.values() if e.doc_ids]
        absent: set[str] = set()
        if dictionary is not None:
            _add_dictionary_names(named, dictionary)
            absent = absent_drugs(dictionary, frequency, named)
        return cls(named, frequency, documents=len(docs), absent_drugs=absent)

    # ------------------------------------------------------------------ storage
    def to_json(self) -> dict[str, object]:
        entities = [
            {
                "name": e.name,
                "aliases": sorted(e.aliases),
                "doc_ids": sorted(e.doc_ids),
                "owners": sorted(e.owners),
                "drug": e.drug,
            }
            for e in sorted(self.entities.values(), key=lambda e: normalize(e.name))
        ]
        return {
            "documents": self.documents,
            "entities": entities,
            "vocabulary": dict(sorted(self.vocabulary.items())),
            "absent_drugs": sorted(self.absent_drugs),
        }

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        entities = (
            Entity(r["name"], set(r["aliases"]), set(r["doc_ids"]), set(r["owners"]), r["drug"])
            for r in data["entities"]
        )
        return cls(entities, data["vocabulary"], documents=int(data["documents"]), absent_drugs=data["absent_drugs"])


# ---------------------------------------------------------------- the drug dictionary
def _add_dictionary_names(entities: Iterable[Entity], dictionary: DrugDictionary) -> None:
    """Give each corpus drug the dictionary's other names for it (brand and generic names)."""
    for entity in entities:
        entity.drug = any(normalize(form) in dictionary.canonical for form in {entity.name, *entity.aliases})
        names = set().union(*(dictionary.synonyms(normalize(form)) for form in {entity.name, *entity.aliases}))
        known = {normalize(form) for form in {entity.name, *entity.aliases}}
        entity.aliases.update(n for n in names if n not in known)


def absent_drugs(dictionary: DrugDictionary, vocabulary: Mapping[str, int], entities: Iterable[Entity]) -> set[str]:
    """Dictionary names of drugs the corpus never mentions under any of their names. A name counts
    as mentioned when every one of its words occurs in the corpus, or it is a lexicon name."""
    named = {normalize(form) for e in entities for form in {e.name, *e.aliases}}

    def mentioned(name: str) -> bool:
        return name in named or all(word in vocabulary for word in name.split())

    return {
        name for group in dictionary.groups.values() if not any(mentioned(member) for member in group) for name in group
    }
