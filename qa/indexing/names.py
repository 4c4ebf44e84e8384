"""Drug names as consumers write them, folded to the names the corpus uses. Pure functions.

Each rule is small and separately tested:

- **abbreviations** (``hctz`` -> hydrochlorothiazide, ``kcl`` -> potassium chloride, ``succ`` ->
  succinate) from ``data/drug_abbreviations.tsv``, which names a source for each;
- **strengths and dose forms** are dropped (``50 mg``, ``5-325``, ``10meq``, ``er``, ``xr``, ``tabs``);
- **salts** are dropped when a name remains (``metoprolol succinate`` -> metoprolol; ``potassium
  chloride`` stays, being nothing but salt words);
- **word order and connectors** do not matter in combinations (``hydrocodone acetaminophen`` ==
  ``Acetaminophen and Hydrocodone``);
- **split and merged words** (``levo thyroxine``, ``hydrocodoneacetaminophen``) and **sound-alike
  spellings** (``metoperal`` ~ metoprolol, by Metaphone) are matched by ``qa.indexing.lexicon``
  with the keys made here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from importlib import resources

ABBREVIATIONS_FILE = "drug_abbreviations.tsv"

SALT_WORDS = frozenset(
    "hydrochloride hydrobromide sodium potassium calcium magnesium succinate tartrate bitartrate maleate "
    "mesylate besylate citrate sulfate sulphate phosphate acetate bromide chloride fumarate hyclate "
    "monohydrate dihydrate trihydrate hemihydrate disodium dipropionate propionate valerate furoate "
    "gluconate lactate carbonate nitrate tosylate hemifumarate oxalate pamoate decanoate".split()
)
FORM_WORDS = frozenset(
    "tablet tablets tab tabs capsule capsules cap caps pill pills er xr xl sr cr la dr ec odt ir "
    "extended delayed sustained controlled immediate release oral solution suspension syrup liquid "
    "injection injectable cream ointment gel patch inhaler spray drops chewable chews".split()
)
UNIT_WORDS = frozenset("mg mcg µg ug g ml meq iu unit units milligram milligrams microgram micrograms".split())
CONNECTORS = frozenset({"and", "with", "plus"})
# A number with a unit (50mg, 10meq, 1%) or a combination strength (5-325, 2.5/500). A bare number is
# not a strength: it belongs to names such as "21-hydroxylase deficiency" and "type 2 diabetes".
_STRENGTH = re.compile(
    r"^(?:\d+(?:[.,]\d+)?(?:mg|mcg|µg|ug|g|ml|meq|iu|units?|%)|\d+(?:[.,]\d+)?(?:[-/]\d+(?:[.,]\d+)?)+)$"
)
_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*|%")


@functools.cache
def abbreviations() -> dict[str, tuple[str, ...]]:
    """abbreviation -> the words it stands for, from the packaged data file."""
    text = (resources.files("qa.indexing") / "data" / ABBREVIATIONS_FILE).read_text(encoding="utf-8")
    table: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        abbreviation, expansion, _source = line.split("\t")
        table[abbreviation] = tuple(expansion.split())
    return table


def tokens(text: str) -> list[str]:
    """Lower-case words (hyphenated words kept whole), ®/™ dropped."""
    return _TOKEN.findall(text.replace("®", " ").replace("™", " ").casefold())


def is_strength(word: str) -> bool:
    return bool(_STRENGTH.match(word)) or word in UNIT_WORDS


def expand(words: Iterable[str]) -> list[str]:
    """Abbreviations replaced by what they stand for."""
    table = abbreviations()
    out: list[str] = []
    for word in words:
        out.extend(table.get(word, (word,)))
    return out


def canonical(words: Iterable[str]) -> list[str]:
    """Abbreviations expanded; strengths, units and dose forms dropped, and a bare number when
    a unit or dose form follows it (``50 mg``, ``81 ec``); salts kept."""
    expanded = expand(words)
    kept = []
    for i, word in enumerate(expanded):
        following = expanded[i + 1] if i + 1 < len(expanded) else ""
        bare_dose = word.replace(".", "", 1).isdigit() and (following in UNIT_WORDS or following in FORM_WORDS)
        if not (is_strength(word) or bare_dose or word in FORM_WORDS):
            kept.append(word)
    return kept


def base(words: Iterable[str]) -> list[str]:
    """``canonical`` without salt words, unless nothing but salt words is left."""
    kept = canonical(words)
    bare = [w for w in kept if w not in SALT_WORDS]
    return bare or kept


def name_key(words: Sequence[str], *, salts: bool = False) -> str:
    """Order-free key of a name: ``base`` (or ``canonical`` with ``salts``) words without
    connectors, sorted. Empty when no name word is left."""
    kept = canonical(words) if salts else base(words)
    return " ".join(sorted(w for w in kept if w not in CONNECTORS))


def phonetic(word: str) -> str:
    """Metaphone code of a word (``metoperal`` and ``metoprolol`` both start ``MTPRL``)."""
    import jellyfish

    return jellyfish.metaphone(word)


def sounds_alike(word: str, name: str, code_word: str | None = None, code_name: str | None = None) -> bool:
    """A one-word spelling that sounds like a one-word name: same first letter, Metaphone codes
    equal or one edit apart (codes of 5+ letters), and letters at most 40% of the name apart.
    Callers that compare one word with many names may pass the codes, computed once."""
    from rapidfuzz.distance import Levenshtein

    if len(word) < 5 or len(name) < 5 or word[0] != name[0]:
        return False
    code_word, code_name = code_word or phonetic(word), code_name or phonetic(name)
    close_codes = code_word == code_name or (
        min(len(code_word), len(code_name)) >= 5 and Levenshtein.distance(code_word, code_name) <= 1
    )
    return close_codes and Levenshtein.distance(word, name) <= max(2, int(0.4 * len(name)))


def splits(word: str, known: frozenset[str] | set[str], *, min_part: int = 4) -> list[tuple[str, str]]:
    """Ways to read a merged word as two known words: ``hydrocodoneacetaminophen``."""
    return [
        (word[:i], word[i:])
        for i in range(min_part, len(word) - min_part + 1)
        if word[:i] in known and word[i:] in known
    ]
