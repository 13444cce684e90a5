"""Abbreviations, titles and regnal numbers read as the words a person says, for ``speechseq.text.normalize``:
"Dr. Jones" doctor jones, "Lt. Col. Day" lieutenant colonel day, "St. Paul" saint paul and "Elm St." elm street,
"George Rose and Co." george rose and company, "No. 5" number five, "George III" george the third, "Henry V"
henry the fifth, "Messrs. Day" messieurs day.

``spell_abbreviations`` runs on text after NFKD, before numbers are spelled and before lowering: the readings turn on
capitals ("St. Paul", "MR scan") and on digits after a word ("No. 5").
"""
from __future__ import annotations

import re

__all__ = ["ABBREVIATION", "spell_abbreviations"]

# Abbreviations with one reading; acronyms ("TV", "NASA") are left as written.
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "vs": "versus", "etc": "et cetera",
                  "prof": "professor", "jr": "junior", "sr": "senior", "eg": "for example", "ie": "that is",
                  "messrs": "messieurs", "mmes": "mesdames"}
# Those that are no word of their own are read without their dot too ("Mr Smith"), so normalising twice changes
# nothing ("mr" -> "mister"). Their edges are letters a-z, not \b: a digit or a dropped character beside one
# ("Dr3", "Dr_3") is no part of the word, and "dr three" would read "doctor three" when normalised again.
ABBREVIATION = re.compile(r"(?<![a-z])(?:(?:mrs?|dr|vs|etc|messrs|mmes)(?![a-z])\.?|(?:prof|jr|sr)\."
                          r"|(?:e\.g|i\.e)(?![a-z])\.?)", re.IGNORECASE)
# Written so, in capitals beside a word in lower case, these are acronyms or initials, their letters said ("MR scan",
# "VS Code", "DR Congo", "E.G. Marshall"); in a headline ("MR SMITH VS JONES") or alone they are still titles, and
# so are "DR." ("Call DR. Smith"), "JR.", "PROF.".
_ACRONYMS = frozenset(("MR", "MRS", "DR", "VS", "ETC", "E.G", "E.G.", "I.E", "I.E."))
# "Dr" right after a capitalised word and before the end of the text or a sign ("Elm Dr.", "12 Elm Dr, Springfield")
# is a street, "drive"; before a word ("Dr. Smith", "Mulholland Dr. Then") and after a title or a greeting ("Mr Dr.",
# "Thanks Dr.") it stays a doctor. "St" so, or after an ordinal ("5th St"), is a street too.
_STREET = re.compile(r"(?<![\w.])(?:[A-Z][a-z]*|(?P<ordinal>\d+(?:st|nd|rd|th)))[ \t]+\Z")
_CLAUSE_END = re.compile(r"\s*(?![\s\w])")
_NOT_STREETS = frozenset(("Mr", "Mrs", "Ms", "Dr", "Prof", "Sir", "Dame", "Lord", "Lady", "Dear", "Hi", "Hey", "Hello",
                          "Thanks", "Thank", "Goodbye", "Bye", "Yes", "No", "Sorry", "Please", "Morning", "Evening"))
_WORD = re.compile(r"[^\W\d_]+")
# A title before a name, with its dot ("Lt. Day", "Maj. Gen. Walker", "Rev. Dr. Griffiths", "Hon. H. G. Bennet"):
# without one, or before a word in lower case, some are words ("Gen Z", "rev", "the Hon"), and are left as written.
# Those that are no word are read without their dot too ("Lt Day", "Mt Everest", "Ft Worth"); none after a number
# ("a 6 Ft Wall", a headline's unit).
_TITLES = {"lt": "lieutenant", "col": "colonel", "maj": "major", "gen": "general", "capt": "captain",
           "sgt": "sergeant", "cpl": "corporal", "pvt": "private", "adm": "admiral", "cmdr": "commander",
           "rev": "reverend", "hon": "honorable", "gov": "governor", "sen": "senator", "rep": "representative",
           "pres": "president", "supt": "superintendent", "insp": "inspector", "det": "detective", "drs": "doctors",
           "fr": "father", "ft": "fort", "mt": "mount"}
_NO_WORD = ("lt", "capt", "sgt", "cpl", "pvt", "cmdr", "supt", "drs", "ft", "mt")
# (These patterns open with a look-ahead at their first letter: their look-behinds are tried only there, at half the
# time over LJSpeech's lines.)
_TITLE = re.compile(r"(?=[A-Z])(?<![\w.'])(?<!\d[ \t])(?:(?P<dotted>"
                    + "|".join(t.title() + "|" + t.upper() for t in _TITLES)
                    + r")\.|(?P<bare>" + "|".join(t.title() for t in _NO_WORD) + r"))(?=[ \t]+[A-Z])")
# A company's or a gentleman's suffix after a capitalised name or "and" ("George Rose and Co.", "Seaport-Traders,
# Inc.", "Ralph Griffith, Esq."); "Co." elsewhere ("Co. Cork", a county) is left as written.
_SUFFIXES = {"co": "company", "inc": "incorporated", "ltd": "limited", "corp": "corporation", "bros": "brothers",
             "esq": "esquire"}
_SUFFIX = re.compile(r"(?P<before>(?=[A-Z&a])(?<![\w'])(?:[A-Z][\w'-]*|and|&),?[ \t]+)(?P<suffix>"
                     + "|".join(s.title() + "|" + s.upper() for s in _SUFFIXES) + r")\.?(?![\w-])")
# A baronet's "Bart." or "Bt." after a knight's name and a comma ("Sir William Rich, Bart.", LJSpeech); elsewhere "Bart"
# is a name ("Lisa and Bart.").
# A name of four words at most: unbounded, a line of "Sir John Sir John ..." without a comma took time in the square of
# its length.
_BARONET = re.compile(r"(?P<name>(?<![\w'])Sir(?:[ \t]+[A-Z][\w'-]*){1,4}),[ \t]+(?:Bart|Bt)\.(?![\w-])")
# A degree's dotted letters are said one by one, as "U.S." is, its doubled letter (a Latin plural) and "Ph" too:
# "LL.D." l l d, "Ph.D." p h d (they read "ll d", "ph d").
_DEGREE = re.compile(r"(?<![\w.])(?P<letters>LL|Ph)\.(?=[A-Z]\.)")
# "St." or "St" (and "ST." in capitals): before a name a saint ("St. Paul", "Bury St. Edmunds"), a street where _STREET
# says so; elsewhere left as written ("the st", "St5").
_SAINT = re.compile(r"(?=S)(?<![\w.'])(?:St\.?|ST\.)(?![\w'-])")
_NAME_AFTER = re.compile(r"[ \t]+[A-Z]")
_WORD_AFTER = re.compile(r"[ \t]+([^\W\d_]+)")
# Between a capitalised word and one of these (a building or a thing named after its street, no saint's name) it is a
# street: "Giltspur St. Compter" (LJSpeech also has "Giltspur Street Compter"), "Liverpool St. Station", "Wall St.
# Journal"; before a name it stays a saint ("Bury St. Edmunds").
_STREET_PLACES = frozenset(("Compter", "Station", "Journal", "Bridge", "Market", "Church", "Chapel", "Meeting",
                            "School", "Prison", "Gaol", "Jail", "Police", "Court", "Hospital", "Hotel", "Theatre",
                            "Theater", "Gate", "Entrance", "Exit", "Crossing", "Subway", "Terminal", "Depot",
                            "Garage", "Office", "Bank", "Store", "Shop", "Mall", "Pier", "Wharf", "Workhouse",
                            "Runners", "Tunnel", "Viaduct", "Academy", "Synagogue", "Mosque", "Temple", "Bus"))
# "No." before a number is "number" ("No. 5", "no.5", "No 10 Downing Street"; "Nos. 5 and 6" numbers), not the word
# "no" ("No, 5 is too many").
_NUMBER_SIGN = re.compile(r"(?=[Nn])(?<![\w.'])(?:(?P<one>No|no|NO)(?:\.|(?<=No))|(?P<many>Nos|nos|NOS)\.?)"
                          r"(?=[ \t]*\d)")
# "pp." before a number is "pages" ("pp. 255-1299": a range of pages, no phone number).
_PAGES = re.compile(r"(?<![\w.'])pp\.(?=[ \t]*\d)")
# A Roman numeral after a name is a regnal number ("George III" george the third, "Henry VIII's" henry the eighth's),
# after a word that counts it a number ("World War II" world war two, "Chapter XII" chapter twelve). I, V and X only.
# One letter is mostly an initial or a word ("Forrest V. Sorrels", "Malcolm X", "then I", "Type V"): a numeral only
# after a monarch's name (_REGNAL_NAMES), not before a capitalised word ("Robert I. Bouck", an initial) nor before
# a contraction ("George I'm"); "I" only where the pronoun can't be, before the end of a clause ("Charles I.",
# "Henry I, who", "Charles I's"), before "of" ("Charles I of England"), or after a title ("King George I went");
# "Then George I went" is left as written, and so is "I" at a clause's end after a verb that takes a person and then a
# clause ("I told Paul I.", "she promised George I, and ...": the clause's subject, its verb left out); "Stephen
# succeeded Henry I." and "He told King George I." are numerals.
_ROMAN = re.compile(r"(?=[A-Z])(?<![\w'])(?P<before>[A-Z][a-z]+)(?P<gap>[ \t]+)(?P<numeral>[IVX]{1,7})"
                    r"(?![\w-]|\.\w)")
_ROMAN_VALID = re.compile(r"X{0,3}(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_COUNTED = frozenset(("war", "chapter", "part", "volume", "vol", "book", "act", "scene", "section", "phase", "stage",
                      "type", "class", "grade", "level", "round", "episode", "title", "article", "appendix", "schedule",
                      "plate", "table", "figure", "psalm", "canto", "series", "division", "league", "tier",
                      "category", "apollo", "gemini", "vatican", "mark", "mk", "unit", "lesson", "step", "bowl"))
_REGNAL_NAMES = frozenset(("Henry", "George", "Edward", "Charles", "William", "James", "Richard", "John", "Stephen",
                           "Harold", "Elizabeth", "Mary", "Anne", "Victoria", "Louis", "Philip", "Francis", "Frederick",
                           "Peter", "Catherine", "Alexander", "Nicholas", "Paul", "Pius", "Leo", "Gregory", "Innocent",
                           "Clement", "Benedict", "Urban", "Boniface", "Ferdinand", "Isabella", "Napoleon", "Wilhelm",
                           "Otto", "Rudolf", "Gustav", "Gustavus", "Christian", "Umberto", "Alfonso", "Carlos", "Ivan",
                           "Constantine", "Justinian", "Robert", "David", "Sargon", "Darius", "Xerxes", "Cyrus",
                           "Ramesses", "Rameses", "Amenhotep", "Thutmose"))
_ROYAL_TITLES = frozenset(("King", "Queen", "Pope", "Emperor", "Empress", "Tsar", "Czar", "Kaiser", "Sultan",
                           "Pharaoh"))
_INITIAL = re.compile(r"\.?[ \t]+[A-Z]|'(?=\w)(?!s(?![\w']))")
_PRONOUN_CANT_BE = re.compile(r"\.?[ \t]*(?![\s\w])|[ \t]+of(?![\w'-])")
_TITLE_BEFORE = re.compile(r"(?<![\w'])(?P<title>[A-Z][a-z]+)[ \t]+\Z")
_CLAUSE_VERBS = frozenset("""tell tells telling told assure assures assured assuring promise promises promised promising
    warn warns warned warning remind reminds reminded reminding inform informs informed informing convince convinces
    convinced convincing persuade persuades persuaded persuading notify notifies notified notifying advise advises
    advised advising reassure reassures reassured reassuring""".split())   # not "show" nor "teach": a coin shows Henry I
_WORD_BEFORE = re.compile(r"(?<![\w'])(?P<word>[A-Za-z]+)[ \t]+\Z")
# Sentence openers before a numeral are no names ("In IV fluids", "At XX"): left as written.
_NOT_NAMES = frozenset(("In", "On", "At", "By", "An", "The", "For", "Of", "To", "And", "Or", "With", "From", "As",
                        "Via", "Per", "Is", "It", "No", "Not", "If", "So", "But", "Give", "Start", "Run", "Use"))


def _beside_lower_case(text: str, start: int, end: int) -> bool:
    """Whether the word before text[start:end] or the one after it has a letter in lower case."""
    before = _WORD.findall(text, max(0, start - 40), start)[-1:]
    after = _WORD.search(text, end, end + 40)
    return any(ch.islower() for word in before + ([after.group(0)] if after else []) for ch in word)


def _street_before(text: str, start: int) -> re.Match | None:
    """The capitalised word (no title) or the ordinal right before text[start], if any."""
    before = _STREET.search(text, max(0, start - 40), start)
    if before is None or before.group(0).split()[0] in _NOT_STREETS:
        return None
    return before


def _is_street(text: str, start: int, end: int) -> bool:
    """Whether "Dr" at text[start:end] follows a capitalised word (no title) and ends its sentence or clause."""
    return _street_before(text, start) is not None and _CLAUSE_END.match(text, end) is not None


def _spell_abbreviation(match: re.Match) -> str:
    # a possessive stays one word ("Dr's" doctor's, not "doctor s")
    after = "" if match.string.startswith("'", match.end()) else " "
    form = match.group(0)
    key = form.replace(".", "").lower()
    if form in _ACRONYMS and _beside_lower_case(match.string, match.start(), match.end()):
        return " " + " ".join(key) + after
    if form in ("Dr", "Dr.") and _is_street(match.string, match.start(), match.end()):
        return " drive" + after
    return " " + _ABBREVIATIONS[key] + after


def _place_after(text: str, end: int) -> bool:
    """Whether the word after text[end] names a building or a thing after its street ("Compter", "Station")."""
    after = _WORD_AFTER.match(text, end)
    return after is not None and after.group(1).title() in _STREET_PLACES


def _spell_saint(match: re.Match) -> str:
    text, start, end = match.string, match.start(), match.end()
    before = _street_before(text, start)
    name_after = _NAME_AFTER.match(text, end) is not None
    if before is not None and (before.group("ordinal") or _CLAUSE_END.match(text, end) or not name_after
                               or _place_after(text, end)):
        return " street "
    return " saint " if name_after else match.group(0)


def _roman(numeral: str) -> int:
    values = [_ROMAN_VALUES[ch] for ch in numeral]
    return sum(-v if v < nxt else v for v, nxt in zip(values, values[1:] + [0]))


def _is_regnal_letter(match: re.Match) -> bool:
    """Whether a one-letter numeral after a monarch's name is a number, not an initial or the pronoun "I"."""
    text, end, numeral = match.string, match.end(), match.group("numeral")
    if match.group("before") not in _REGNAL_NAMES or _INITIAL.match(text, end):
        return False
    if numeral != "I":
        return True
    start = match.start()
    title = _TITLE_BEFORE.search(text, max(0, start - 40), start)
    if title is not None and title.group("title") in _ROYAL_TITLES:
        return True
    pronoun_cant_be = _PRONOUN_CANT_BE.match(text, end)
    if pronoun_cant_be is None:
        return False
    if pronoun_cant_be.group(0).strip(" \t") == "of" or text.startswith("'", end):   # "Charles I of", "Charles I's"
        return True
    # "I told Paul I.": "I" at a clause's end after such a verb and a name is the clause's subject
    verb = _WORD_BEFORE.search(text, max(0, start - 40), start)
    return verb is None or verb.group("word").lower() not in _CLAUSE_VERBS


def _spell_roman(match: re.Match) -> str:
    from .text import _ordinal, number_to_words   # (text imports this module)
    before, numeral = match.group("before"), match.group("numeral")
    if not _ROMAN_VALID.fullmatch(numeral) or before in _NOT_NAMES:
        return match.group(0)
    if len(numeral) == 1 and not _is_regnal_letter(match):
        return match.group(0)
    n = _roman(numeral)
    if before.lower() in _COUNTED:
        return f"{before}{match.group('gap')}{number_to_words(n)}"
    return f"{before} the {_ordinal(n)}"


def spell_abbreviations(text: str) -> str:
    """Titles, saints and streets, companies, baronets, degrees' letters, "No." and "pp." before a number, Roman
    numerals after a name, in words."""
    text = _TITLE.sub(lambda m: " " + _TITLES[(m.group("dotted") or m.group("bare")).lower()] + " ", text)
    text = _BARONET.sub(lambda m: m.group("name") + ", baronet", text)
    text = _DEGREE.sub(lambda m: " ".join(m.group("letters")) + " ", text)
    text = _SUFFIX.sub(lambda m: m.group("before") + _SUFFIXES[m.group("suffix").lower()], text)
    text = _SAINT.sub(_spell_saint, text)
    text = _NUMBER_SIGN.sub(lambda m: " number " if m.group("one") else " numbers ", text)
    text = _PAGES.sub(" pages ", text)
    text = _ROMAN.sub(_spell_roman, text)
    return ABBREVIATION.sub(_spell_abbreviation, text)
