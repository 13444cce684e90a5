"""Text normalisation, session 50: a street before a building's name, one-letter regnal numerals, "Messrs.", feet and
inches, phone numbers digit by digit."""
import pytest

from speechseq.text import normalize


@pytest.mark.parametrize("raw,expected", [
    # "Giltspur St. Compter" read "giltspur saint compter" (LJSpeech also has "Giltspur Street Compter")
    ("Newgate, Giltspur St. Compter, and the City Bridewell,",
     "newgate giltspur street compter and the city bridewell"),
    ("Liverpool St. Station, the Wall St. Journal", "liverpool street station the wall street journal"),
    # before a saint's name it stays a saint
    ("Bury St. Edmunds, at St. Paul and Elm Streets, St. James's Palace", "bury saint edmunds at saint paul and elm "
                                                                          "streets saint james's palace"),
])
def test_normalize_reads_st_before_a_building_as_street(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # a one-letter numeral after a monarch's name was read as a letter: "Henry V" henry v
    ("Henry V, Edward VI and Charles X", "henry the fifth edward the sixth and charles the tenth"),
    ("George I, then Charles I.", "george the first then charles the first"),
    ("Old King Sargon I., who may have lived", "old king sargon the first who may have lived"),   # LJSpeech
    ("Charles I's head, Charles I of England", "charles the first's head charles the first of england"),
    ("King George I went, Then Henry V went", "king george the first went then henry the fifth went"),
])
def test_normalize_reads_a_one_letter_regnal_numeral(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # the pronoun after a name, an initial (LJSpeech: "Robert I. Bouck"), a letter, a contraction: as written
    ("Then George I went", "then george i went"),
    ("Robert I. Bouck, Robert I Bouck, Forrest V. Sorrels", "robert i bouck robert i bouck forrest v sorrels"),
    ("vitamin C, Plan B, type V, Type V, Malcolm X", "vitamin c plan b type v type v malcolm x"),
    ("George I'm here, Henry I and Mary", "george i'm here henry i and mary"),
    ("Charles I. Edward", "charles i edward"),   # a dot and a capitalised word after it: an initial
])
def test_normalize_keeps_a_one_letter_word_that_is_no_numeral(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    # read "messrs", "mmes"
    ("a clerk to Messrs. Wagner and Bateman.", "a clerk to messieurs wagner and bateman"),
    ("Messrs Birch and Mmes. Curie", "messieurs birch and mesdames curie"),
])
def test_normalize_reads_messrs_and_mmes(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # read "five ten", "five feet ten in"
    ("5'10\", 6'2\" and 6' 2''", "five feet ten inches six feet two inches and six feet two inches"),
    ("5 ft 10 in, 5ft. 10in. tall, 1 ft 1 in", "five feet ten inches five feet ten inches tall one foot one inch"),
    ("5\u203210\u2033, 5'10.5\"", "five feet ten inches five feet ten point five inches"),   # primes
    # without a number before each, or alone: as before
    ("'take 5', a 10\" screen, 5 in a row", "take five a ten screen five in a row"),
    # a time, an angle (12 inches or more are no height, nor minutes and seconds after a degree sign): as before
    ("3'45\" mile, 40\u00b026'46\"N, 40\u00b026'6\"N",
     "three forty five mile forty degrees twenty six forty six n forty degrees twenty six six n"),
])
def test_normalize_reads_feet_and_inches(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # "555-1234" read "five hundred fifty five twelve thirty four", the others as numbers or a range
    ("555-1234", "five five five one two three four"),
    ("(555) 123-4567", "five five five one two three four five six seven"),
    ("+1 555 123 4567", "plus one five five five one two three four five six seven"),
    ("1-800-555-0199 or 555-123-4567", "one eight zero zero five five five zero one nine nine or five five five one "
                                       "two three four five six seven"),
    # ranges, dates and zip codes as they were; two round amounts are a range, now read "to"
    ("1880-1890, 3-4, 2020-01-05, 12345-6789", "eighteen eighty to eighteen ninety three to four twenty twenty zero "
                                               "one zero five twelve thousand three hundred forty five six thousand "
                                               "seven hundred eighty nine"),
    ("100-1000 people", "one hundred to one thousand people"),
    # a seven-digit number's exchange starts with 2-9: "120-1250" is a range (it read one two zero one two five zero)
    ("pages 120-1250", "pages one hundred twenty to twelve fifty"),
    ("2 +3 = 5", "two plus three equals five"),
])
def test_normalize_reads_phone_numbers_digit_by_digit(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected
