"""Plain language (issue #23, item 5): the reasons a letter prints are measured over the golden cases.

What is measured
----------------
Every ``reason`` (English) and ``reason_es`` (Spanish) of every criterion of every golden case's
determination (``tests/policy/golden_cases.yaml`` run through the engine, as ``test_golden`` runs
them), one text per criterion, repeats included: a letter prints each of them. The median over
those texts must be

* **Flesch-Kincaid grade <= 8** in English: ``0.39 * words/sentences + 11.8 * syllables/words - 15.59``
  (Kincaid et al., 1975, Navy Research Branch Report 8-75);
* **Szigriszt-Pazos perspicuity (INFLESZ scale) >= 55** in Spanish:
  ``206.835 - 62.3 * syllables/words - words/sentences`` (Szigriszt-Pazos, 1993; the INFLESZ scale of
  Barrio-Cantalejo et al., 2008: below 40 very difficult, 40-55 somewhat difficult, 55-65 normal,
  65-80 fairly easy, above 80 very easy).

Issue #23 asks for a 6th-8th grade level for member notices (the domain brief), and "normal" (55) in
Spanish.

How the counts are made (implemented here; no dependency)
----------------------------------------------------------
* **Sentences**: a run of text ending in ``.``, ``!`` or ``?`` followed by a space or the end of the
  text (so "C90.00" or "1.088" never ends one); at least one per text. Semicolons and colons do not end
  a sentence (the stricter reading: they make sentences longer).
* **Words**: runs of letters (with internal hyphens or apostrophes: "step-up" and "anti-CD38" are one
  word), and numerals. Punctuation and quotation marks are not words.
* **Numerals** ("27", "2026", "1988") are one word of one syllable, as common tools count them (a
  numeral is read at a glance, not sounded out). Limit: spoken aloud "2026" is five syllables in
  English, so date-heavy texts read a little easier here than aloud; :func:`spoken_numbers` shows the
  same medians with every numeral counted as its spoken syllables, printed by ``python -m
  tests.policy.test_readability`` (not asserted).
* **English syllables** (:func:`syllables_en`): groups of vowels (a, e, i, o, u, and y after a
  consonant; "y" then a, e or o is two, as in "my-e-lo-ma"), less a silent final "e" (not "-le"
  after a consonant), a silent "-es"/"-ed" (except after s, x, z, ch, sh, g, c / t, d), plus one
  for "-ier"/"-iest" after a consonant ("earlier") and for the hiatuses "ia", "io", "iu", "ua", "uo"
  inside or at the end of a word (not "-tion", "-sion", "-cian", "-cial", "-tial", "-gion",
  "-gious"); a word without vowels ("mg", "bcmm") and an all-capitals abbreviation of 2-3 letters
  ("FDA", "MMM") is spelled letter by letter (one syllable a letter, "W" three); a longer one is read
  as a word ("ECOG", said "EE-cog"); a possessive "'s" adds no syllable. A heuristic: it is exact on
  the words of :data:`EN_CHECKS` (counts from a dictionary, not from this code) and may be off by one
  on other words ("area" counts 2; "people" would count 3 with an "eo" rule, so there is none); the
  error is small against a median over hundreds of texts.
* **Spanish syllables** (:func:`syllables_es`): Spanish spelling is regular, so this is close to exact.
  Each vowel nucleus is a syllable; two adjacent vowels form one (a diphthong) unless both are strong
  (a, e, o) or one is an accented weak vowel (í, ú), which makes a hiatus; "y" is a vowel at the end
  of a word or alone ("hay", "muy", "y"); "h" does not join vowels across it for the count. Checked on
  :data:`ES_CHECKS`. Brand and drug names (Elrexfio, daratumumab) are counted by the same rules.

Limits: readability formulas measure length, not meaning. They do not see whether a word is common,
whether the order of ideas is clear, or whether the text is true; the letter checks
(``tests/policy/letters.py``) and the golden reason phrases keep the texts true and specific.
"""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache

import pytest

from tests.policy.golden import load, run

FK_MAX: float = 8.0
INFLESZ_MIN: float = 55.0

# --- tokens and sentences --------------------------------------------------------------------------

_LETTERS = "A-Za-zÁÉÍÓÚÜÑáéíóúüñ"
_WORD = re.compile(rf"[{_LETTERS}0-9]+(?:['’\-.,/:][{_LETTERS}0-9]+)*")
"""A word: letters and digits, joined by hyphens, apostrophes, or (inside numerals and codes such as
"1,988", "C90.00", "11:04") by dots, commas, colons and slashes."""
_SENTENCE_END = re.compile(r"[.!?]+[”\")]*(?=\s|$)")
_ABBREVIATIONS = (("a. m.", "am"), ("p. m.", "pm"), ("a.m.", "am"), ("p.m.", "pm"), ("e.g.", "eg"), ("i.e.", "ie"))


def _prepare(text: str) -> str:
    for short, plain in _ABBREVIATIONS:
        text = text.replace(short, plain)
    return text


def sentences(text: str) -> int:
    """The number of sentences (at least one for a non-empty text)."""
    text = _prepare(text).strip()
    return max(1, len(_SENTENCE_END.findall(text))) if text else 0


def words(text: str) -> list[str]:
    return _WORD.findall(_prepare(text))


# --- English syllables -----------------------------------------------------------------------------

_VOWELS_EN = "aeiouy"
_HIATUS_EN = ("ia", "io", "iu", "ua", "uo")
_NOT_HIATUS_EN = ("tion", "sion", "cian", "cial", "tial", "gion", "gious", "cious", "tious", "xious", "ciat", "tia")


def _spelled(word: str) -> int:
    return sum(3 if ch in "Ww" else 1 for ch in word if ch.isalpha())


@lru_cache(maxsize=8192)
def syllables_en(word: str) -> int:
    """Syllables of one English word (see the module doc for the rules and their limits)."""
    if any(ch.isdigit() for ch in word):
        return _numeral_or_code(word, syllables_en)
    word = re.sub(r"['’]s$", "", word)  # the possessive adds no syllable ("member's")
    if "-" in word or "'" in word or "’" in word:
        return sum(syllables_en(part) for part in re.split(r"[-'’]", word) if part)
    letters = "".join(ch for ch in word if ch.isalpha())
    if not letters:
        return 0
    if letters.isupper() and 2 <= len(letters) <= 3:
        return _spelled(letters)
    w = letters.lower()
    if not any(ch in "aeiou" for ch in w) and not (len(w) > 1 and "y" in w[1:]):
        return _spelled(w)
    count, previous_vowel = 0, False
    for i, ch in enumerate(w):
        vowel = ch in "aeiou" or (ch == "y" and i > 0 and w[i - 1] not in _VOWELS_EN)
        if vowel and (not previous_vowel or (w[i - 1] == "y" and ch in "aeo")):
            count += 1  # a new vowel group, or "y" then a vowel ("my-e-lo-ma")
        previous_vowel = vowel
    if w.endswith("e") and not w.endswith(("le", "ee", "ie", "ye")) and count > 1:
        count -= 1
    elif w.endswith("le") and len(w) > 2 and w[-3] in _VOWELS_EN and count > 1:
        count -= 1  # "while", "scale"
    elif (
        w.endswith("es")
        and count > 1
        and not w.endswith(("ses", "xes", "zes", "ches", "shes", "ges", "ces"))
        and len(w) > 3
        and w[-3] not in _VOWELS_EN
    ):
        count -= 1  # "notes", "dates"; not "goes"
    elif w.endswith("ed") and count > 1 and not w.endswith(("ted", "ded")) and len(w) > 3 and w[-3] not in _VOWELS_EN:
        count -= 1  # "listed" keeps it; "signed", "based" do not
    if len(w) > 4 and w.endswith(("ier", "iest", "iers")) and w[-4 if w.endswith("ier") else -5] not in _VOWELS_EN:
        count += 1  # "earlier", "easiest"
    for pair in _HIATUS_EN:
        start = 1
        while (at := w.find(pair, start)) > 0:
            if not any(w.startswith(stem, max(0, at - k)) for stem in _NOT_HIATUS_EN for k in range(1, 3)):
                count += 1
            start = at + 1
    return max(1, count)


# --- Spanish syllables -----------------------------------------------------------------------------

_STRONG_ES = set("aeoáéóíú")
"""Strong vowels, and the accented weak vowels that break a diphthong (hiatus)."""
_VOWELS_ES = set("aeiouáéíóúü")


@lru_cache(maxsize=8192)
def syllables_es(word: str) -> int:
    """Syllables of one Spanish word: vowel nuclei, with diphthongs and hiatuses (see the module doc)."""
    if any(ch.isdigit() for ch in word):
        return _numeral_or_code(word, syllables_es)
    if "-" in word or "'" in word or "’" in word:
        return sum(syllables_es(part) for part in re.split(r"[-'’]", word) if part)
    letters = "".join(ch for ch in word if ch.isalpha())
    if not letters:
        return 0
    if letters.isupper() and 2 <= len(letters) <= 3:
        return _spelled(letters)
    w = letters.lower()
    marks = []
    for i, ch in enumerate(w):
        if ch in _VOWELS_ES:
            marks.append(ch)
        elif ch == "y" and (i == len(w) - 1) and i > 0:
            marks.append("i")  # "hay", "muy", "ley"
        elif ch == "y" and len(w) == 1:
            marks.append("i")
        else:
            marks.append(None)
    count = 0
    previous: str | None = None
    for m in marks:
        if m is None:
            previous = None
            continue
        if previous is None or (previous in _STRONG_ES and m in _STRONG_ES):
            count += 1
        previous = m
    if count == 0:
        return _spelled(w)
    return count


# --- numerals and codes ----------------------------------------------------------------------------


def _numeral_or_code(word: str, letters_rule: Callable[[str], int]) -> int:
    """A numeral is one syllable ("2026", "1,988", "11:04"); a code mixing letters and digits ("C90.00",
    "J1323", "CD38") counts its letter runs by ``letters_rule`` (spelled when short and capital) and
    each digit run as one."""
    parts = re.findall(rf"[{_LETTERS}]+|[0-9]+", word)
    if all(p.isdigit() for p in parts):
        return 1
    return sum(1 if p.isdigit() else (letters_rule(p) if len(p) > 1 else 1) for p in parts)


_ONES_EN = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS_EN = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ONES_ES = [
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
    "trece",
    "catorce",
    "quince",
    "dieciséis",
    "diecisiete",
    "dieciocho",
    "diecinueve",
    "veinte",
    "veintiuno",
    "veintidós",
    "veintitrés",
    "veinticuatro",
    "veinticinco",
    "veintiséis",
    "veintisiete",
    "veintiocho",
    "veintinueve",
]
_TENS_ES = ["_", "_", "_", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"]
_HUNDREDS_ES = [
    "_",
    "ciento",
    "doscientos",
    "trescientos",
    "cuatrocientos",
    "quinientos",
    "seiscientos",
    "setecientos",
    "ochocientos",
    "novecientos",
]


def _say_en(n: int) -> str:
    if n < 20:
        return _ONES_EN[n]
    if n < 100:
        return _TENS_EN[n // 10] + ("" if n % 10 == 0 else "-" + _ONES_EN[n % 10])
    if n < 1000:
        return _ONES_EN[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _say_en(n % 100))
    if 2000 <= n < 2100 and n % 100 >= 10:
        return "twenty " + _say_en(n % 100)  # a year: twenty twenty-six
    if n < 1_000_000:
        return _say_en(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + _say_en(n % 1000))
    return " ".join(_say_en(int(d)) for d in str(n))


def _say_es(n: int) -> str:
    if n < 30:
        return _ONES_ES[n]
    if n < 100:
        return _TENS_ES[n // 10] + ("" if n % 10 == 0 else " y " + _ONES_ES[n % 10])
    if n == 100:
        return "cien"
    if n < 1000:
        return _HUNDREDS_ES[n // 100] + ("" if n % 100 == 0 else " " + _say_es(n % 100))
    if n < 1_000_000:
        head = "mil" if n // 1000 == 1 else _say_es(n // 1000) + " mil"
        return head + ("" if n % 1000 == 0 else " " + _say_es(n % 1000))
    return " ".join(_say_es(int(d)) for d in str(n))


def spoken_numbers(text: str, lang: str) -> str:
    """``text`` with every plain numeral written as it is read aloud (for the alternative count)."""
    say = _say_en if lang == "en" else _say_es

    def one(m: re.Match[str]) -> str:
        return say(int(m.group(0).replace(",", "")))

    return re.sub(r"(?<![\w.\-])\d{1,3}(?:,\d{3})+(?![\w.\-])|(?<![\w.\-])\d+(?![\w.\-])", one, text)


# --- the formulas ----------------------------------------------------------------------------------


def _counts(text: str, rule: Callable[[str], int]) -> tuple[int, int, int]:
    ws = words(text)
    return sentences(text), len(ws), sum(rule(w) for w in ws)


def flesch_kincaid_grade(text: str) -> float:
    s, w, syl = _counts(text, syllables_en)
    return 0.39 * w / s + 11.8 * syl / w - 15.59


def szigriszt_pazos(text: str) -> float:
    s, w, syl = _counts(text, syllables_es)
    return 206.835 - 62.3 * syl / w - w / s


# --- the syllable rules, checked on dictionary counts ----------------------------------------------

EN_CHECKS: dict[str, int] = {
    # counts as Merriam-Webster's syllable breaks give them
    "the": 1, "request": 2, "received": 2, "treatment": 2, "earlier": 3, "lines": 1, "policy": 3,
    "multiple": 3, "myeloma": 4, "relapsed": 2, "refractory": 4, "performance": 3, "status": 2,
    "assessed": 2, "dated": 2, "notes": 1, "doses": 2, "period": 3, "reviewer": 3, "clinical": 3,
    "decide": 2, "plan": 1, "approval": 3, "oncology": 4, "diagnosis": 4, "medication": 4,
    "immunomodulatory": 8, "proteasome": 3, "inhibitor": 4, "antibody": 4, "every": 3, "weekly": 2,
    "billing": 2, "units": 2, "allowed": 2, "started": 2, "needed": 2, "based": 1, "made": 1,
    "while": 1, "people": 2, "labeled": 2, "member": 2, "documents": 3, "imaging": 3, "results": 2,
    "progression": 3, "unacceptable": 5, "effects": 2, "radiation": 4, "usually": 4,
    "previous": 3, "studies": 2, "ECOG": 2, "member's": 2, "FDA": 3, "mg": 2, "step-up": 2, "Elrexfio": 4,
    "earliest": 3,
}  # fmt: skip
ES_CHECKS: dict[str, int] = {
    # counts by the Real Academia's rules for diphthongs and hiatuses
    "la": 1, "solicitud": 4, "tratamiento": 4, "anteriores": 4, "política": 4, "mieloma": 3,
    "múltiple": 3, "recaída": 4, "refractario": 4, "evaluación": 4, "afiliado": 4, "oncología": 5,
    "día": 2, "días": 2, "recibió": 3, "hay": 1, "muy": 1, "y": 1, "que": 1, "guía": 2, "cuidarse": 3,
    "revisor": 3, "clínico": 3, "decisión": 3, "estudio": 3, "laboratorio": 5, "período": 4,
    "continuar": 3, "huevo": 2, "ahora": 3, "veintiséis": 3, "noviembre": 3, "autorización": 5,
    "aprobación": 4, "funcional": 3, "puntuación": 3, "Elrexfio": 3, "diagnóstico": 4,
    "medicamento": 5, "inmunomodulador": 7, "proteasoma": 5, "mayo": 2, "leer": 2, "poeta": 3, "ECOG": 2,
    "FDA": 3,
}  # fmt: skip


@pytest.mark.parametrize(("word", "count"), EN_CHECKS.items())
def test_english_syllables_match_the_dictionary(word: str, count: int) -> None:
    assert syllables_en(word) == count


@pytest.mark.parametrize(("word", "count"), ES_CHECKS.items())
def test_spanish_syllables_follow_the_academys_rules(word: str, count: int) -> None:
    assert syllables_es(word) == count


def test_the_formulas_on_hand_counted_texts() -> None:
    # "The cat sat on the mat." 1 sentence, 6 words, 6 syllables: 0.39*6 + 11.8*1 - 15.59 = -1.45
    assert flesch_kincaid_grade("The cat sat on the mat.") == pytest.approx(-1.45)
    # "El gato come. La casa es grande." 2 sentences, 7 words, 11 syllables (el, ga-to, co-me, la,
    # ca-sa, es, gran-de): 206.835 - 62.3*11/7 - 7/2 = 105.435
    assert szigriszt_pazos("El gato come. La casa es grande.") == pytest.approx(105.435)
    # a numeral is a word of one syllable; a code's letters and digit runs count apart
    assert words("On November 27, 2026 (C90.00).") == ["On", "November", "27", "2026", "C90.00"]
    assert sentences("Codes C90.00 to C90.02 apply. Then 1,988 units.") == 2
    assert spoken_numbers("by 2026 and 27", "en") == "by twenty twenty-six and twenty-seven"
    assert spoken_numbers("el 27 de 2026", "es") == "el veintisiete de dos mil veintiséis"


# --- the golden cases ------------------------------------------------------------------------------


def reason_texts() -> tuple[list[str], list[str]]:
    """Every ``reason`` and ``reason_es`` of the golden cases' determinations, repeats included."""
    en: list[str] = []
    es: list[str] = []
    for case in load():
        for c in run(case).determination.criteria:
            en.append(c.reason)
            assert c.reason_es is not None, (case.name, c.id)
            es.append(c.reason_es)
    return en, es


def medians(texts_en: Iterable[str], texts_es: Iterable[str], spoken: bool = False) -> tuple[float, float]:
    def prep(t: str, lang: str) -> str:
        return spoken_numbers(t, lang) if spoken else t

    return (
        statistics.median(flesch_kincaid_grade(prep(t, "en")) for t in texts_en),
        statistics.median(szigriszt_pazos(prep(t, "es")) for t in texts_es),
    )


def test_median_reading_level_of_the_golden_cases_reasons() -> None:
    en, es = reason_texts()
    assert len(en) == len(es) >= 400
    grade, inflesz = medians(en, es)
    assert grade <= FK_MAX, f"median Flesch-Kincaid grade {grade:.2f} > {FK_MAX}"
    assert inflesz >= INFLESZ_MIN, f"median Szigriszt-Pazos (INFLESZ) {inflesz:.2f} < {INFLESZ_MIN}"


def main() -> int:
    en, es = reason_texts()
    grade, inflesz = medians(en, es)
    spoken_grade, spoken_inflesz = medians(en, es, spoken=True)
    print(f"{len(en)} English and {len(es)} Spanish reasons over {len(load())} golden cases")
    print(f"median Flesch-Kincaid grade (English): {grade:.2f} (numerals as spoken: {spoken_grade:.2f})")
    print(f"median Szigriszt-Pazos / INFLESZ (Spanish): {inflesz:.2f} (numerals as spoken: {spoken_inflesz:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
