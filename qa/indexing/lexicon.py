"""A drug lexicon built from the corpus, and recognition of its names in questions.

Sources, per document:

- the title, when it is a name (not a question, at most 8 words): ``Pomalidomide``;
- brand and other names in an "Alternate Names" / "Other names" / "Brand names" section:
  words marked ® or ™ (``Pomalyst®``, ``Imnovid®``) and the names listed after "also known
  as", "brand names include", "sold as";
- a name in parentheses after a name in any title: ``pomalidomide (Imnovid)`` makes
  Imnovid an alias of pomalidomide and ties that document to it.

Recognition ignores case and the ® and ™ marks, and tolerates small misspellings: edit
distance 1 for names of 5 to 7 letters, 2 for 8 or more; shorter names must match exactly,
and all-capital abbreviations (``ALL``) must match in capitals. A misspelling is only
looked for where a question word is unknown to the corpus, so ordinary words are not
"corrected" into names. Longer matches win over the shorter ones inside them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qa.ingest.documents import Document

LEXICON_FILE = "lexicon.json"
MAX_NAME_WORDS = 8
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_MARKS = re.compile(r"[®™©]")
_ALIAS_SECTION = re.compile(r"alternate names?|other names?|brand names?|also known as|synonyms?|trade names?", re.I)
_MARKED = re.compile(r"([A-Z][\w-]*(?:\s[A-Z][\w-]*){0,2})\s?[®™]")
_LISTED = re.compile(
    r"(?:also known as|brand names? (?:include|includes|are|is)|sold (?:as|under)|marketed as)\s+([^.;\n]+)", re.I
)
_PARENTHESES = re.compile(r"([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*){0,5})\s*\(([^()]{2,60})\)")
_STOP = frozenset("the a an and or of in on for to with by is are do does you your my i what how".split())


def normalize(text: str) -> str:
    """Lower case, no ®/™, words separated by single spaces."""
    return " ".join(_WORD.findall(_MARKS.sub("", text).casefold()))


def letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def max_edits(name: str) -> int:
    n = letters(name)
    return 2 if n >= 8 else 1 if n >= 5 else 0


def _is_abbreviation(text: str) -> bool:
    bare = _MARKS.sub("", text).strip()
    return bare.isupper() and len(bare.replace("-", "")) <= 5


@dataclass
class Entity:
    name: str
    aliases: set[str] = field(default_factory=set)
    doc_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Mention:
    name: str  # the entity's name
    matched_text: str  # as written in the question
    doc_ids: tuple[str, ...]
    start: int
    end: int
    exact: bool


def _is_name(title: str) -> bool:
    return bool(title) and not title.rstrip().endswith("?") and len(title.split()) <= MAX_NAME_WORDS


def _split_aliases(text: str) -> list[str]:
    parts = re.split(r",|;|\band\b|\bor\b|/", _MARKS.sub("", text))
    cleaned = [re.sub(r"^(?:including|e\.g\.|such as|see)\s+", "", p.strip(" .:'\""), flags=re.I) for p in parts]
    return [p for p in cleaned if 0 < len(p.split()) <= 4]


class Lexicon:
    def __init__(self, entities: Iterable[Entity], vocabulary: Iterable[str] = ()) -> None:
        self.entities: dict[str, Entity] = {normalize(e.name): e for e in entities}
        self.vocabulary = frozenset(vocabulary)  # every word of the corpus, lower case, as written
        # surface form (normalised) -> (entity key, case-sensitive original or None)
        self._forms: dict[str, list[tuple[str, str | None]]] = {}
        for key, entity in self.entities.items():
            for form in {entity.name, *entity.aliases}:
                exact_case = _MARKS.sub("", form).strip() if _is_abbreviation(form) else None
                self._forms.setdefault(normalize(form), []).append((key, exact_case))
        self._by_words: dict[int, list[str]] = {}
        for form in self._forms:
            self._by_words.setdefault(len(form.split()), []).append(form)

    def __len__(self) -> int:
        return len(self.entities)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_documents(cls, documents: Iterable[Document]) -> Lexicon:
        docs = list(documents)
        entities: dict[str, Entity] = {}

        def entity(name: str) -> Entity:
            return entities.setdefault(normalize(name), Entity(name=name))

        for doc in docs:
            if _is_name(doc.title):
                title = _PARENTHESES.sub(lambda m: m.group(1), doc.title).strip()
                entity(title).doc_ids.add(doc.doc_id)
        for doc in docs:
            for match in _PARENTHESES.finditer(doc.title):
                words, inside = match.group(1).split(), match.group(2)
                # The longest run of words before "(" that is already a name; else the last word.
                name = next(
                    (" ".join(words[i:]) for i in range(len(words)) if normalize(" ".join(words[i:])) in entities),
                    " ".join(words) if _is_name(doc.title) else words[-1],
                )
                if normalize(name) in _STOP:
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
        vocabulary = {
            w for doc in docs for s in doc.sections for w in normalize(" ".join([*s.headings, s.body.text])).split()
        }
        vocabulary |= {w for doc in docs for w in normalize(doc.title).split()}
        return cls((e for e in entities.values() if e.doc_ids), vocabulary)

    # ------------------------------------------------------------------ storage
    def to_json(self) -> dict[str, object]:
        entities = [
            {"name": e.name, "aliases": sorted(e.aliases), "doc_ids": sorted(e.doc_ids)}
            for e in sorted(self.entities.values(), key=lambda e: normalize(e.name))
        ]
        return {"entities": entities, "vocabulary": sorted(self.vocabulary)}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        entities = (Entity(r["name"], set(r["aliases"]), set(r["doc_ids"])) for r in data["entities"])
        return cls(entities, data["vocabulary"])

    # ------------------------------------------------------------------ recognition
    def recognise(self, question: str) -> list[Mention]:
        """Entities named in ``question``; misspellings are only looked for in spans that contain
        a word the corpus never uses."""
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import extractOne

        clean = _MARKS.sub(lambda m: " " * len(m.group()), question)
        spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(clean)]
        words = [w.casefold() for _, _, w in spans]
        taken = [False] * len(words)
        mentions: list[Mention] = []
        longest = max(self._by_words, default=0)
        for n in range(min(longest, len(words)), 0, -1):
            forms = self._by_words.get(n, [])
            for i in range(len(words) - n + 1):
                if any(taken[i : i + n]) or all(w in _STOP for w in words[i : i + n]):
                    continue
                phrase = " ".join(words[i : i + n])
                original = question[spans[i][0] : spans[i + n - 1][1]]
                hit, exact = None, True
                if phrase in self._forms:
                    hit = phrase
                elif not all(w in self.vocabulary for w in words[i : i + n]):
                    limit = max_edits(phrase)
                    if limit:
                        best = extractOne(phrase, forms, scorer=Levenshtein.distance, score_cutoff=limit)
                        if best is not None and best[1] <= max_edits(best[0]):
                            hit, exact = best[0], False
                if hit is None:
                    continue
                for key, exact_case in self._forms[hit]:
                    if exact_case is not None and original != exact_case:
                        continue
                    entity = self.entities[key]
                    mentions.append(
                        Mention(
                            entity.name,
                            original,
                            tuple(sorted(entity.doc_ids)),
                            spans[i][0],
                            spans[i + n - 1][1],
                            exact,
                        )
                    )
                    for j in range(i, i + n):
                        taken[j] = True
        return sorted(mentions, key=lambda m: m.start)
