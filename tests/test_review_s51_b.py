"""Text normalisation, session 51: numbers that only looked like phone numbers and phone numbers that were read as
numbers, minutes and seconds in prime notation, ranges of years, pages and ordinals, the pronoun "I" after a name, a
baronet and a degree's letters."""
import pytest

from speechseq.text import normalize


@pytest.mark.parametrize("raw,expected", [
    # a list or a sum read digit by digit ("plus one zero two zero ..."): "+10" is no country code, "+20" (Egypt) needs
    # eight digits or more after it, "+1" ten (the North American plan's), "+7" so
    ("+10 20 30 40", "plus ten twenty thirty forty"),
    ("+20 30 40 50", "plus twenty thirty forty fifty"),
    ("+1 20 30 40 50", "plus one twenty thirty forty fifty"),
    ("+7 10 20 30 40", "plus seven ten twenty thirty forty"),
])
def test_normalize_reads_a_list_after_a_plus_as_numbers(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # phone numbers of each shape stay digit by digit
    ("+45 20 30 40 50", "plus four five two zero three zero four zero five zero"),   # Denmark: 8 digits in pairs
    ("+7 495 123 45 67", "plus seven four nine five one two three four five six seven"),
    ("+358 9 123 4567", "plus three five eight nine one two three four five six seven"),
    ("+354 555 1234", "plus three five four five five five one two three four"),   # Iceland: 7 digits
    ("+1 (555) 123-4567", "plus one five five five one two three four five six seven"),
])
def test_normalize_keeps_reading_international_numbers_digit_by_digit(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    # these were read as numbers ("plus forty four zero twenty seven thousand ..."): with the trunk prefix "(0)", a
    # group of more than four digits, the national number in one group
    ("+44 (0)20 7946 0958", "plus four four zero two zero seven nine four six zero nine five eight"),
    ("+44 7700 900123", "plus four four seven seven zero zero nine zero zero one two three"),   # a group of six
    ("tel. +49 (0)30 1234567", "tel plus four nine zero three zero one two three four five six seven"),
    ("+33 123456789, +91 9876543210", "plus three three one two three four five six seven eight nine plus nine one "
                                      "nine eight seven six five four three two one zero"),   # in one group
])
def test_normalize_reads_more_international_forms_digit_by_digit(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # minutes and seconds with a leading zero read "three feet zero five inches": inches are never written "05"
    ("3'05\"", "three zero five"),
    ("He ran the mile in 3'05\" and then 4'00\"", "he ran the mile in three zero five and then four zero zero"),
    ("a lap of 1'08.5\"", "a lap of one zero eight point five"),
])
def test_normalize_reads_prime_notation_with_a_leading_zero_neutrally(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # a height is still one
    ("5'0\", 5'9\" and 6'11\"", "five feet zero inches five feet nine inches and six feet eleven inches"),
    ("5 ft 05 in", "five feet zero five inches"),   # with its units written, a leading zero is no time
])
def test_normalize_still_reads_a_height(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    # a year range before or after an era, or after "circa" or "years", read as a phone number "four one zero one ..."
    ("410-1066 AD", "four hundred ten to one thousand sixty six ad"),
    ("from 753-1453 A.D.", "from seven hundred fifty three to fourteen fifty three a d"),
    ("c. 330-1453, AD 410-1066", "c three hundred thirty to fourteen fifty three ad four hundred ten to one thousand "
                                 "sixty six"),
    # and a range of pages: "pp." read "pp" and the range as a phone number
    ("pp. 255-1299, pages 255-1299", "pages two hundred fifty five to twelve ninety nine pages two hundred fifty five "
                                     "to twelve ninety nine"),
    ("the years 410-1066, 900-1100 BCE", "the years four hundred ten to one thousand sixty six nine hundred to eleven "
                                         "hundred bce"),
])
def test_normalize_reads_a_range_of_years_or_pages_as_a_range(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # without a year's mark, the same digits are a phone number still
    ("call 410-1066 today, 410-1066 ADT", "call four one zero one zero six six today four one zero one zero six six "
                                          "adt"),
])
def test_normalize_keeps_a_phone_number_without_an_era(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    # after a verb that takes a person and then a clause, "I" starts that clause: it read "paul the first"
    ("I told Paul I.", "i told paul i"),
    ("She promised George I, and I kept it.", "she promised george i and i kept it"),
    ("We had warned Henry I!", "we had warned henry i"),
])
def test_normalize_reads_i_after_a_verb_and_a_name_as_the_pronoun(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    # a numeral still: at the end without such a verb, after a title, before "of"
    ("the reign of Paul I.", "the reign of paul the first"),
    ("Stephen succeeded Henry I.", "stephen succeeded henry the first"),
    ("He told King George I.", "he told king george the first"),
    ("They told Charles I of England", "they told charles the first of england"),
    ("I showed Charles I's head", "i showed charles the first's head"),
    ("Henry I", "henry the first"),
    ("George I.", "george the first"),
])
def test_normalize_still_reads_a_one_letter_regnal_numeral(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    # two ordinals with a hyphen between them read "first second"
    ("the 1st-2nd centuries AD, 19th-20th century", "the first to second centuries ad nineteenth to twentieth century"),
])
def test_normalize_reads_a_range_of_ordinals(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # LJSpeech: "Sir William Rich, Bart." read "bart", "LL.D." "ll d"
    ("One Sir William Rich, Bart., he had loaded", "one sir william rich baronet he had loaded"),
    ("Sir John Smith, Bt.", "sir john smith baronet"),
    ("The Rev. W. Bailey, LL.D., was convicted", "the reverend w bailey l l d was convicted"),
    ("Jane Doe, Ph.D., and an LL.B.", "jane doe p h d and an l l b"),
])
def test_normalize_reads_a_baronet_and_a_degree(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize("raw,expected", [
    # "Bart" without a knight's name before it is a name
    ("Lisa and Bart., Homer, Bart.", "lisa and bart homer bart"),
])
def test_normalize_keeps_bart_as_a_name(raw, expected):
    assert normalize(raw) == expected
