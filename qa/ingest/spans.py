"""Character spans: text assembled from pieces of a source file, mapped back exactly.

A section's clean text is a concatenation of pieces of the source file (site chrome and
citation markers left out). ``Runs`` remembers where each piece came from, so any range
of the clean text maps back to a ``[start, end)`` span of the source file. Offsets are
Python string indices (Unicode code points) into the file as decoded from UTF-8.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

Run = tuple[int, int, int]  # (clean_start, source_start, length)


@dataclass(frozen=True)
class Pieces:
    """Clean text plus the runs that map it back to the source."""

    text: str
    runs: tuple[Run, ...]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the clean range ``[start, end)`` (non-empty) to a ``[start, end)`` source span."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"range [{start}, {end}) is not inside text of length {len(self.text)}")
        return self._to_source(start), self._to_source(end - 1) + 1

    @cached_property
    def _starts(self) -> list[int]:
        return [run[0] for run in self.runs]

    def _to_source(self, index: int) -> int:
        clean_start, source_start, _ = self.runs[bisect_right(self._starts, index) - 1]
        return source_start + (index - clean_start)


class PiecesBuilder:
    """Collects ``[start, end)`` source ranges in order; adjacent ranges merge into one run."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._runs: list[list[int]] = []
        self._length = 0

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        if self._runs and self._runs[-1][1] + self._runs[-1][2] == start:
            self._runs[-1][2] += end - start
        else:
            self._runs.append([self._length, start, end - start])
        self._length += end - start

    def build(self) -> Pieces:
        """The collected text with leading and trailing whitespace trimmed."""
        text = "".join(self._source[s : s + n] for _, s, n in self._runs)
        lead = len(text) - len(text.lstrip())
        keep = len(text.rstrip()) - lead
        if keep <= 0:
            return Pieces("", ())
        runs: list[Run] = []
        for clean_start, source_start, length in self._runs:
            lo, hi = max(clean_start, lead), min(clean_start + length, lead + keep)
            if lo < hi:
                runs.append((lo - lead, source_start + (lo - clean_start), hi - lo))
        return Pieces(text[lead : lead + keep], tuple(runs))


_NEWLINE = re.compile("\n")


class LineIndex:
    """1-based line numbers for character offsets of one source text."""

    def __init__(self, source: str) -> None:
        self._starts = [0] + [match.end() for match in _NEWLINE.finditer(source)]

    def line_of(self, offset: int) -> int:
        return bisect_right(self._starts, offset)

    def lines_of(self, start: int, end: int) -> tuple[int, int]:
        """First and last line (inclusive) touched by the non-empty span ``[start, end)``."""
        return self.line_of(start), self.line_of(max(start, end - 1))
