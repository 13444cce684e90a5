"""Word lists for keyword training data: sound-alikes of a keyword and ordinary negatives.

Pure python and deterministic for a given seed, word list and (where given, to leave out the
keyword's homophones) pronunciation dictionary. The word list is
``/usr/share/dict/words`` (Debian ``wamerican``) unless one is given; words are lowercased,
letters only (possessives and names with accents dropped).
"""
from __future__ import annotations

import functools
import itertools
import os
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..errors import SpeechseqError
from ..files import text_lines

__all__ = ["DICT_PATH", "load_words", "load_pronunciations", "holds_phones", "holds_keyword", "contains_keyword",
           "sound_alikes", "ordinary_words", "ordinary_phrases"]

DICT_PATH = Path("/usr/share/dict/words")
_VOWELS = set("aeiouy")


@functools.lru_cache(maxsize=4)
def _load(path: str) -> tuple[str, ...]:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").split()  # a word not UTF-8 is dropped, not cut
    except OSError as err:
        raise SpeechseqError(f"cannot read word list {path}: {err.strerror} (Debian: apt install wamerican)") from None
    return tuple(sorted({w.lower() for w in lines if re.fullmatch(r"[A-Za-z]+", w)}))


def load_words(path: str | os.PathLike = DICT_PATH) -> tuple[str, ...]:
    """The word list: lowercase letter-only words, sorted, unique."""
    return _load(str(path))


def load_pronunciations() -> dict[str, list[tuple[str, ...]]]:
    """The CMU pronouncing dictionary pocketsphinx bundles (lowercase word -> its phone sequences), {} when
    pocketsphinx is not installed: what tells a homophone of a keyword ("night" for "knight")."""
    import importlib.util

    spec = importlib.util.find_spec("pocketsphinx")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(list(spec.submodule_search_locations)[0]) / "model" / "en-us" / "cmudict-en-us.dict"
    return {w: list(p) for w, p in _pronunciations(str(path))}


@functools.lru_cache(maxsize=2)
def _pronunciations(path: str) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    prons: dict[str, list[tuple[str, ...]]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    for line in lines:
        parts = line.split()
        if parts:
            prons.setdefault(re.sub(r"\(\d+\)$", "", parts[0]).lower(), []).append(tuple(parts[1:]))
    return tuple((w, tuple(p)) for w, p in prons.items())


def holds_phones(pron: Sequence[str], inner: Sequence[str]) -> bool:
    """Whether the phone sequence ``inner`` occurs in ``pron`` as consecutive phones."""
    pron, inner = tuple(pron), tuple(inner)
    return bool(inner) and any(pron[i: i + len(inner)] == inner for i in range(len(pron) - len(inner) + 1))


Choices = tuple[tuple[tuple[str, ...], ...], ...]  # a keyword's pronunciations: one to choose for each word in turn


def holds_keyword(pron: Sequence[str], choices: Choices) -> bool:
    """Whether ``pron`` holds, as consecutive phones, one of the pronunciations ``choices`` spell (one phone sequence
    chosen for each word in turn): `holds_phones` of any of their combinations, matched word by word in ``pron``
    instead of spelled out, the combinations being as many as the product of the words' numbers of pronunciations
    (2 ** 20 for 20 words of two)."""
    pron = tuple(pron)
    least = sum(min(map(len, options), default=0) for options in choices)
    for start in range(len(pron) - least + 1):
        ends = {start}  # where the words matched so far may end
        for options in choices:
            ends = {e + len(o) for e in ends for o in options if pron[e: e + len(o)] == o}
            if not ends:
                break
        if any(e > start for e in ends):  # an empty pronunciation is held nowhere, as in holds_phones
            return True
    return False


def _ascii_key(keyword: str) -> str:
    """A keyword's letters as the word list spells words: lowercase a-z, accents dropped ("Café" -> "cafe"); ""
    for a keyword in another alphabet ("привет"), which no word of the list looks like."""
    return re.sub(r"[^a-z]", "", _fold(keyword))


def _fold(text: str) -> str:
    """Lowercase with accents dropped ("Naïve" -> "naive")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _keyword_prons(keyword: str, prons: dict) -> list[Choices]:
    """The keyword's pronunciations as `holds_keyword` takes them, [] where the dictionary cannot spell it: its words
    spelled as the dictionary spells them, a contraction whole ("he'll", which read as "he" and "ll" had none, and its
    homophones "heal" and "heel" were negatives), a curly apostrophe straight. One choice per word, not every
    combination (24,576 for a phrase of 161 letters, each sought in every word of the dictionary: minutes)."""
    from .splice import phrase_choices

    words = [w.strip("'") for w in re.findall(r"[a-z']+", _fold(keyword).replace("\u2019", "'"))]
    choices = phrase_choices([w for w in words if w], prons) if prons else []
    return [tuple(tuple(tuple(p) for p in options) for options in choices)] if choices else []


def _says(word: str, key_prons: list[Choices], prons: dict) -> bool:
    """Whether one of ``word``'s pronunciations holds one of the keyword's ("tonight" for "knight")."""
    return any(holds_keyword(p, k) for p in prons.get(word, ()) for k in key_prons)


def _forms(key: str) -> tuple[str, ...]:
    """The letters that say a keyword inside a word: its own and, where it ends in a consonant and "y", its "ie"
    form ("baby" in "babies", "babied", "babiest"; "party" in "partied"), which the dictionary mostly lacks."""
    if len(key) >= 3 and key[-1] == "y" and key[-2].isalpha() and key[-2] not in "aeiouy":
        return key, key[:-1] + "ie"
    return (key,)


_LETTERS = re.compile(r"[^\W\d_]+")  # runs of letters, of any alphabet


def _letter_runs(text: str) -> list[str]:
    return _LETTERS.findall(unicodedata.normalize("NFC", text).casefold())


def contains_keyword(text: str, keyword: str) -> bool:
    """Whether ``text`` holds the keyword's letters inside a word ("activated", "reactivate"; "babies",
    "partied" for a keyword ending in a consonant and "y"), or, for a keyword of several words, those words in
    a row ("Hey, robot!" for "hey robot"). Letters of any alphabet ("привет", "café", not "cafeteria"); a
    keyword with no letter is found in no text."""
    words = _letter_runs(keyword)
    if not words:
        return False
    said = _letter_runs(text)
    joined = " ".join(said)
    return (any(f in w for f in _forms("".join(words)) for w in said)
            or (len(words) > 1 and any(" ".join([*words[:-1], f]) in joined for f in _forms(words[-1]))))


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _rhyme(word: str) -> str:
    """The ending from the second-to-last vowel group: "activate" -> "ate", "computer" -> "uter",
    "amelia" -> "elia" (a final silent-looking "e" counts as a group, which suits English)."""
    starts = [i for i, c in enumerate(word) if c in _VOWELS and (i == 0 or word[i - 1] not in _VOWELS)]
    return word[starts[-2]:] if len(starts) >= 2 else word


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: str, b: str) -> int:
    return _common_prefix(a[::-1], b[::-1])


def sound_alikes(keyword: str, n: int, seed: int = 0, words: Sequence[str] | None = None,
                 prons: dict[str, list[tuple[str, ...]]] | None = None) -> list[str]:
    """``n`` words that look (and mostly sound) like ``keyword``, best first within each kind.

    Kinds, taken in turn so that each is represented: shared prefix (>= 3 letters), shared
    suffix (>= 3), rhymes (same ending from the second-to-last vowel group), small edit
    distance, and the keyword's parts (dictionary words inside it, "act" in "activate"). Never
    the keyword itself, its plural, or any word that contains the keyword's letters
    ("activated", "computers"; "babied" for "baby"): those say the keyword. With ``prons`` (word ->
    pronunciations, e.g. ``load_pronunciations()``), nor a word one of whose pronunciations holds one of the
    keyword's: its homophones ("night", "tonight" for "knight"). Ties are broken by ``seed``. Accents are
    dropped ("café" is "cafe"); a keyword in another alphabet ("привет") has no sound-alikes in an English word
    list: [].
    """
    if not _letter_runs(keyword):
        raise ValueError(f"keyword {keyword!r} has no letters")
    key = _ascii_key(keyword)
    if not key:
        return []
    vocab = load_words() if words is None else words
    forms = _forms(key)
    pool = [w for w in vocab if len(w) >= 2 and not any(f in w for f in forms) and w not in (key + "s", key + "es")]
    rng = random.Random(f"{key}:{seed}")
    jitter = {w: rng.random() for w in pool}
    key_prons = _keyword_prons(keyword, prons or {})
    pool = [w for w in pool if not _says(w, key_prons, prons or {})]  # after the draws: the others' ties stay
    rhyme = _rhyme(key)
    limit = max(2, (len(key) + 1) // 3)
    kinds: list[list[tuple[float, str]]] = [[], [], [], [], []]
    for w in pool:
        p, s = _common_prefix(w, key), _common_suffix(w, key)
        if p >= 3:
            kinds[0].append((-p + 0.1 * abs(len(w) - len(key)), w))
        if s >= 3:
            kinds[1].append((-s + 0.1 * abs(len(w) - len(key)), w))
        if len(rhyme) >= 2 and w.endswith(rhyme) and abs(len(w) - len(key)) <= 3:
            kinds[2].append((abs(len(w) - len(key)), w))
        if abs(len(w) - len(key)) <= limit and len(set(w) & set(key)) >= len(set(key)) // 2:
            d = _edit_distance(w, key, limit)
            if d <= limit:
                kinds[3].append((d, w))
        if len(w) >= 3 and w in key:
            kinds[4].append((-len(w), w))
    for kind in kinds:
        kind.sort(key=lambda item: (item[0], jitter[item[1]]))
    chosen: list[str] = []
    taken: set[str] = set()
    cursors = [0] * len(kinds)
    while len(chosen) < n and any(c < len(k) for c, k in zip(cursors, kinds)):
        for i, kind in enumerate(kinds):
            while cursors[i] < len(kind) and kind[cursors[i]][1] in taken:
                cursors[i] += 1
            if cursors[i] < len(kind) and len(chosen) < n:
                word = kind[cursors[i]][1]
                chosen.append(word)
                taken.add(word)
                cursors[i] += 1
    return chosen


def ordinary_words(n: int, seed: int = 0, exclude: Iterable[str] = (), min_len: int = 3,
                   max_len: int = 10, words: Sequence[str] | None = None,
                   prons: dict[str, list[tuple[str, ...]]] | None = None) -> list[str]:
    """``n`` distinct random dictionary words (fewer if the list is short), none containing an
    ``exclude`` keyword (nor, with ``prons``, saying one: as in `sound_alikes`)."""
    exclude = list(exclude)
    keys = [f for k in exclude for f in _forms(_ascii_key(k))]
    key_prons = [p for k in exclude for p in _keyword_prons(k, prons or {})]
    vocab = load_words() if words is None else words
    pool = [w for w in vocab if min_len <= len(w) <= max_len and not any(k and k in w for k in keys)]
    rng = random.Random(seed)
    out = rng.sample(pool, min(n, len(pool)))
    if key_prons:  # homophones dropped after the draw (the others stay as drawn), then made up from the rest
        says = {w for w in pool if _says(w, key_prons, prons or {})}
        out = [w for w in out if w not in says]
        chosen = set(out)
        rest = [w for w in pool if w not in says and w not in chosen]
        out += rng.sample(rest, min(n - len(out), len(rest)))
    return out


@functools.lru_cache(maxsize=65536)
def _latin_word(token: str) -> bool:
    """Whether normalize spells `token` in letters a-z (and apostrophes) as one word: "café", "Straße", not "42",
    "привет"."""
    from ..text import normalize

    return re.fullmatch(r"[a-z']+", normalize(token)) is not None


def _sentences(text_files: Iterable[str | os.PathLike],
               read: Callable[[str | os.PathLike], list[str]] = text_lines) -> list[list[str]]:
    """Each line's runs of words in Latin letters, as written ("café", "Straße" kept whole: [A-Za-z']+ cut them to
    "caf", "stra", "e"), a curly apostrophe made straight ("don’t" was "don", "t"); a number or a word of another
    alphabet ends a run (words on either side of one were never written side by side), other punctuation is left out.
    A file that is not UTF-8 is one error (read with errors="ignore", a Latin-1 "café" was "caf" too)."""
    sentences = []
    for path in text_files:
        for line in read(path):
            run: list[str] = []
            # a number with the letters glued to it ("3rd", "1990s") is one token: no "rd" begins the next run
            for token in re.findall(r"\d[\d\w]*|(?:[^\W\d_]|['’])+", line.replace("’", "'")):
                if not token.strip("'"):   # a quote mark alone: punctuation
                    continue
                if not token[0].isdigit() and _latin_word(token):   # engines read numbers their own ways
                    run.append(token)
                    continue
                if run:
                    sentences.append(run)
                run = []
            if run:
                sentences.append(run)
    return sentences


def _phrase_says(words: list[str], key_prons: list[Choices], prons: dict) -> bool:
    """Whether the phones of normalised ``words`` in a row hold one of the keyword's, within a word or across words
    ("a nice cream" for "ice cream"); a word the dictionary lacks breaks the row."""
    runs: list[list[list[tuple[str, ...]]]] = [[]]
    for w in words:
        if w in prons:
            runs[-1].append(prons[w])
        else:
            runs.append([])
    return any(holds_keyword(tuple(itertools.chain.from_iterable(p)), k)
               for run in runs if run for p in itertools.product(*run) for k in key_prons)


def ordinary_phrases(text_files: Iterable[str | os.PathLike], n: int, seed: int = 0, exclude: Iterable[str] = (),
                     min_words: int = 2, max_words: int = 4,
                     prons: dict[str, list[tuple[str, ...]]] | None = None,
                     read: Callable[[str | os.PathLike], list[str]] = text_lines) -> list[str]:
    """``n`` distinct short phrases (``min_words``..``max_words`` consecutive words) cut from the
    lines of ``text_files``, none containing an ``exclude`` keyword, as written or as normalize spells both ("the
    cafe" for "café", "Mister Robot" for "Mr Robot"), nor, with ``prons``, saying one (as in `sound_alikes`: "the
    night" for "knight"; across words too). Returned as written (case kept, punctuation dropped)."""
    from ..text import normalize

    keys = list(exclude)
    spelled = [normalize(k) for k in keys]
    key_prons = [p for k in keys for p in _keyword_prons(k, prons or {})]
    sentences = [s for s in _sentences(text_files, read) if len(s) >= min_words]
    if not sentences:
        raise SpeechseqError("no phrases: the text files hold no lines of words")
    rng = random.Random(seed)
    phrases: list[str] = []
    seen: set[str] = set()
    for _ in range(20 * n):
        if len(phrases) >= n:
            break
        tokens = rng.choice(sentences)
        k = rng.randint(min_words, min(max_words, len(tokens)))
        start = rng.randint(0, len(tokens) - k)
        phrase = " ".join(tokens[start:start + k])
        if phrase.lower() in seen:
            continue
        said = normalize(phrase)
        if (any(contains_keyword(phrase, k) for k in keys) or any(contains_keyword(said, k) for k in spelled)
                or (key_prons and _phrase_says(said.split(), key_prons, prons or {}))):
            continue
        seen.add(phrase.lower())
        phrases.append(phrase)
    return phrases
