"""Recognising the corpus's drug names in a question written the way consumers write.

For every run of question words, longest first, the first rule that matches wins:

1. the name or an alias as written (case and ®/™ ignored; all-capital abbreviations such as
   ``ALL`` only in capitals);
2. the same name after ``qa.indexing.names`` folds both sides: abbreviations expanded, strengths
   and dose forms dropped, salts dropped when a name remains, word order and "and" ignored
   (``hctz 25mg`` -> Hydrochlorothiazide; ``metoprolol succ er`` -> Metoprolol Succinate, or
   Metoprolol when the corpus has no succinate page);
3. split or merged words (``levo thyroxine``, ``hydrocodoneacetaminophen``);
4. a misspelling: up to 1 edit for names of 5 to 7 letters, 2 for 8 or more, or a one-word
   spelling that sounds like the name (Metaphone). Only where a word of the run may be misspelled:
   one the corpus never uses, or (in a corpus of 100+ documents) uses in at most 2 documents.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.indexing import names
from qa.indexing.lexicon import MARKS, STOP_WORDS, WORD, Lexicon, is_abbreviation, max_edits, normalize

BOUNDARY = STOP_WORDS | names.CONNECTORS
RULES = frozenset({"name", "folded", "joined", "split", "edit", "sound", "rare"})
# What recognition did before consumer spellings: names as written, small misspellings of unknown words.
BASIC_RULES = frozenset({"name", "edit"})
RARE_IN_DOCUMENTS = 2  # a word in at most this many documents may be a misspelling...
RARITY_NEEDS_DOCUMENTS = 100  # ...when the corpus is large enough for frequencies to mean something


@dataclass(frozen=True)
class Mention:
    name: str  # the entity's name
    matched_text: str  # as written in the question
    doc_ids: tuple[str, ...]
    start: int
    end: int
    exact: bool  # written as the corpus writes it (up to case, marks, abbreviations, salts and forms)
    owners: tuple[str, ...] = ()  # documents whose title is this name
    rule: str = "name"  # name, folded, joined, split, edit or sound


class Recogniser:
    """Lookup tables over a lexicon, built once per loaded index."""

    def __init__(self, lexicon: Lexicon, rules: frozenset[str] = RULES) -> None:
        unknown = rules - RULES
        if unknown:
            raise ValueError(f"unknown recognition rules {sorted(unknown)}; choose from {sorted(RULES)}")
        self.lexicon = lexicon
        self.rules = rules
        self._forms: dict[str, list[tuple[str, str | None]]] = {}  # normalised form -> (entity, exact case)
        self._keys: dict[str, set[str]] = {}  # folded key (salts kept) -> entities
        self._bases: dict[str, set[str]] = {}  # folded key without salts -> entities
        for key, entity in lexicon.entities.items():
            for form in {entity.name, *entity.aliases}:
                exact_case = MARKS.sub("", form).strip() if is_abbreviation(form) else None
                normal = normalize(form)
                self._forms.setdefault(normal, []).append((key, exact_case))
                if exact_case is None:
                    words = names.tokens(form)
                    self._keys.setdefault(names.name_key(words, salts=True), set()).add(key)
                    self._bases.setdefault(names.name_key(words), set()).add(key)
        self._keys.pop("", None)
        self._bases.pop("", None)
        self._by_words: dict[int, list[str]] = {}
        for form in self._forms:
            self._by_words.setdefault(len(form.split()), []).append(form)
        self._single = frozenset(k for k in self._bases if " " not in k)
        # One-word names by first letter, with their Metaphone codes: the sound rule compares a
        # word with the names that share its initial, not with the whole lexicon.
        self._sound_index: dict[str, list[tuple[str, str]]] = {}
        for name in sorted(self._single):
            if len(name) >= 5:
                self._sound_index.setdefault(name[0], []).append((name, names.phonetic(name)))
        self._name_words = frozenset(w for k in self._bases for w in k.split())
        self._longest = max(self._by_words, default=0)
        self._common_words = [w for w, n in lexicon.vocabulary.items() if n >= 2 and len(w) >= 4]

    def may_be_misspelled(self, word: str) -> bool:
        frequency = self.lexicon.vocabulary.get(word, 0)
        if frequency == 0:
            return True
        return (
            "rare" in self.rules and self.lexicon.documents >= RARITY_NEEDS_DOCUMENTS and frequency <= RARE_IN_DOCUMENTS
        )

    # ------------------------------------------------------------------ the rules
    def _folded(self, words: list[str]) -> set[str]:
        salted = names.name_key(words, salts=True)
        if salted in self._keys:
            return self._keys[salted]
        return self._bases.get(names.name_key(words), set())

    def _joined(self, words: list[str]) -> set[str]:
        return self._folded(["".join(words)]) if 2 <= len(words) <= 3 else set()

    def _split(self, words: list[str]) -> set[str]:
        if len(words) != 1 or len(words[0]) < 10 or not self.may_be_misspelled(words[0]):
            return set()
        for left, right in names.splits(words[0], self._name_words):
            found = self._folded([left, right])
            if found:
                return found
        return set()

    def _misspelled(self, words: list[str]) -> tuple[set[str], str]:
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import extract

        if not any(self.may_be_misspelled(w) for w in words):
            return set(), ""
        phrase = " ".join(words)
        limit = max_edits(phrase)
        forms = self._by_words.get(len(words), [])
        if limit and forms and "edit" in self.rules:
            best = extract(phrase, forms, scorer=Levenshtein.distance, score_cutoff=limit, limit=None)
            best = [(form, distance) for form, distance, _ in best if distance <= max_edits(form)]
            if best:
                closest = min(distance for _, distance in best)
                found = [
                    frozenset(key for key, exact_case in self._forms[form] if exact_case is None)
                    for form, distance in best
                    if distance == closest
                ]
                # Forms equally close that name different entities: no guess. Two spellings of one
                # drug (pomalidomide, pomalidomida) are one answer.
                return (set(found[0]), "edit") if len(set(found)) == 1 else (set(), "")
        if len(words) == 1 and "sound" in self.rules:
            return self._sounds_like(words[0]), "sound"
        return set(), ""

    def _sounds_like(self, word: str) -> set[str]:
        """The one name that sounds most like ``word`` (fewest letter edits); nothing if two
        different names are equally close (``trichinosis``: trichinellosis or trichomoniasis?)."""
        from rapidfuzz.distance import Levenshtein

        if len(word) < 5:
            return set()
        code = names.phonetic(word)
        alike = sorted(
            (Levenshtein.distance(word, name), name)
            for name, name_code in self._sound_index.get(word[0], [])
            if names.sounds_alike(word, name, code, name_code)
        )
        if not alike:
            return set()
        closest = {frozenset(self._bases[name]) for distance, name in alike if distance == alike[0][0]}
        return set(next(iter(closest))) if len(closest) == 1 else set()

    def _match(self, words: list[str], original: str) -> tuple[set[str], str]:
        phrase = " ".join(words)
        if "name" in self.rules and phrase in self._forms:
            found = {key for key, case in self._forms[phrase] if case is None or original == case}
            if found:
                return found, "name"
        if {words[0], words[-1]} & BOUNDARY:
            return set(), ""  # "pomalyst and" is not a longer name than "pomalyst"
        for rule, finder in (("folded", self._folded), ("joined", self._joined), ("split", self._split)):
            if rule not in self.rules:
                continue
            found = finder(words)
            if found:
                return found, rule
        return self._misspelled(words)

    def absent_drugs(self, question: str, mentions: list[Mention]) -> list[str]:
        """Drug names in ``question`` (up to 4 words) that the corpus never mentions, per the drug
        dictionary the index was built with; words inside a recognised name do not count."""
        absent = self.lexicon.absent_drugs
        if not absent:
            return []
        spans = [(m.start(), m.end()) for m in WORD.finditer(MARKS.sub(lambda m: " " * len(m.group()), question))]
        words = [question[a:b].casefold() for a, b in spans]
        taken = [any(m.start <= a and b <= m.end for m in mentions) for a, b in spans]
        found: list[str] = []
        for n in range(min(4, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                phrase = " ".join(words[i : i + n])
                if not any(taken[i : i + n]) and phrase in absent and not self._typo_of_corpus_word(phrase):
                    found.append(phrase)
                    taken[i : i + n] = [True] * n
        return found

    def _typo_of_corpus_word(self, phrase: str) -> bool:
        """A one-word dictionary name one letter away from a word the corpus uses in several
        documents is more likely a typo of that word (``infecton``) than a drug."""
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import extractOne

        if " " in phrase or len(phrase) < 5:
            return False
        common = self._common_words
        return bool(common) and extractOne(phrase, common, scorer=Levenshtein.distance, score_cutoff=1) is not None

    # ------------------------------------------------------------------ recognise
    def recognise(self, question: str) -> list[Mention]:
        """Entities named in ``question``, in order; longer matches win over shorter ones inside them."""
        clean = MARKS.sub(lambda m: " " * len(m.group()), question)
        spans = [(m.start(), m.end()) for m in WORD.finditer(clean)]
        words = [question[a:b].casefold() for a, b in spans]
        taken = [False] * len(words)
        mentions: list[Mention] = []
        for n in range(min(self._longest + 1, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                run = words[i : i + n]
                if any(taken[i : i + n]) or all(w in STOP_WORDS for w in run):
                    continue
                original = question[spans[i][0] : spans[i + n - 1][1]]
                found, rule = self._match(run, original)
                for key in sorted(found):
                    entity = self.lexicon.entities[key]
                    mentions.append(
                        Mention(
                            entity.name, original, tuple(sorted(entity.doc_ids)), spans[i][0], spans[i + n - 1][1],
                            rule in ("name", "folded"), tuple(sorted(entity.owners)), rule,
                        )
                    )  # fmt: skip
                if found:
                    taken[i : i + n] = [True] * n
        return sorted(mentions, key=lambda m: m.start)
