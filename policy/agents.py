"""How the agent names on a request's prior lines map to the drug classes criterion A.ii names.

Policy A.ii: "an anti-CD38 monoclonal antibody (e.g., daratumumab), a proteasome inhibitor
(e.g., bortezomib, ixazomib, or carfilzomib), and an immunomodulatory agent (e.g., lenalidomide
or pomalidomide)". The class members below are the FDA-approved agents of each class in multiple
myeloma, by generic name (English and Spanish) and US brand name.

Reading one regimen entry (:func:`read_agent`):

* Text is folded first: lower case, accents removed (``melfalán`` = ``melfalan``), trademark
  signs and punctuation other than hyphens dropped, whitespace collapsed.
* Names are matched as whole words anywhere in the text, so FDA biologic suffixes
  (``daratumumab and hyaluronidase-fihj``, ``isatuximab-irfc``), doses and notes are tolerated.
* Regimen abbreviations as oncologists write them (``VRd``, ``KRd``, ``D-VRd``, ``Dara-Pd``,
  ``Isa Pd``, ``CyBorD``, ...) expand to their agents (:data:`REGIMENS`). Abbreviations of three
  or more letters match in any case and with or without a hyphen or space after the prefix
  (``dara``, ``isa``, ``elo``, ``d``); the two-letter ones (``Rd``, ``Pd``, ``Kd``, ``Vd``) match
  only as written (capital, then lower-case ``d``), because ``PD`` also means progressive disease.
* Elranatamab itself (``elranatamab``, ``elranatamab-bcmm``, ``Elrexfio``) is recognised as the
  requested drug: a line that contains it is not a prior line (IMWG: the drug being requested is
  not a prior line).
* Other myeloma agents (dexamethasone, cyclophosphamide, melphalan, elotuzumab, selinexor,
  teclistamab, ...) are recognised but belong to no A.ii class.
* Anything else is *unrecognised*: it still counts toward its line (a line is one regimen), not
  toward a class, and the reason names it instead of asserting that a class is absent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

DrugClass = Literal["anti_cd38", "proteasome_inhibitor", "immunomodulatory"]

CLASS_ORDER: Final[tuple[DrugClass, ...]] = ("anti_cd38", "proteasome_inhibitor", "immunomodulatory")

CLASS_NOUNS: Final[dict[DrugClass, str]] = {
    "anti_cd38": "anti-CD38 monoclonal antibody",
    "proteasome_inhibitor": "proteasome inhibitor",
    "immunomodulatory": "immunomodulatory agent",
}
CLASS_NAMES: Final[dict[DrugClass, str]] = {
    "anti_cd38": "an anti-CD38 monoclonal antibody",
    "proteasome_inhibitor": "a proteasome inhibitor",
    "immunomodulatory": "an immunomodulatory agent",
}

REQUESTED_DRUG: Final = "elranatamab"

# Folded name -> standard generic name. Spanish INNs: lenalidomida, pomalidomida, talidomida;
# bortezomib, carfilzomib, ixazomib, daratumumab and isatuximab keep their spelling in Spanish.
CLASS_AGENTS: Final[dict[DrugClass, dict[str, str]]] = {
    "anti_cd38": {
        "daratumumab": "daratumumab",
        "daratumumab and hyaluronidase": "daratumumab",
        "daratumumab y hialuronidasa": "daratumumab",
        "darzalex": "daratumumab",
        "darzalex faspro": "daratumumab",
        "dara": "daratumumab",
        "isatuximab": "isatuximab",
        "sarclisa": "isatuximab",
    },
    "proteasome_inhibitor": {
        "bortezomib": "bortezomib",
        "bortezomibe": "bortezomib",
        "velcade": "bortezomib",
        "btz": "bortezomib",
        "carfilzomib": "carfilzomib",
        "carfilzomibe": "carfilzomib",
        "kyprolis": "carfilzomib",
        "carfil": "carfilzomib",
        "cfz": "carfilzomib",
        "ixazomib": "ixazomib",
        "ixazomibe": "ixazomib",
        "ninlaro": "ixazomib",
    },
    "immunomodulatory": {
        "lenalidomide": "lenalidomide",
        "lenalidomida": "lenalidomide",
        "revlimid": "lenalidomide",
        "len": "lenalidomide",
        "lena": "lenalidomide",
        "pomalidomide": "pomalidomide",
        "pomalidomida": "pomalidomide",
        "pomalyst": "pomalidomide",
        "pom": "pomalidomide",
        "poma": "pomalidomide",
        "imnovid": "pomalidomide",
        "thalidomide": "thalidomide",
        "talidomida": "thalidomide",
        "thalomid": "thalidomide",
    },
}

OTHER_AGENTS: Final[dict[str, str]] = {
    "dexamethasone": "dexamethasone",
    "dexametasona": "dexamethasone",
    "dex": "dexamethasone",
    "decadron": "dexamethasone",
    "prednisone": "prednisone",
    "prednisona": "prednisone",
    "cyclophosphamide": "cyclophosphamide",
    "ciclofosfamida": "cyclophosphamide",
    "cytoxan": "cyclophosphamide",
    "melphalan": "melphalan",
    "melfalan": "melphalan",
    "alkeran": "melphalan",
    "evomela": "melphalan",
    "elotuzumab": "elotuzumab",
    "empliciti": "elotuzumab",
    "selinexor": "selinexor",
    "xpovio": "selinexor",
    "panobinostat": "panobinostat",
    "venetoclax": "venetoclax",
    "bendamustine": "bendamustine",
    "bendamustina": "bendamustine",
    "doxorubicin": "doxorubicin",
    "doxorrubicina": "doxorubicin",
    "cisplatin": "cisplatin",
    "cisplatino": "cisplatin",
    "etoposide": "etoposide",
    "etoposido": "etoposide",
    "teclistamab": "teclistamab",
    "tecvayli": "teclistamab",
    "talquetamab": "talquetamab",
    "talvey": "talquetamab",
    "linvoseltamab": "linvoseltamab",
    "idecabtagene vicleucel": "idecabtagene vicleucel",
    "abecma": "idecabtagene vicleucel",
    "ide-cel": "idecabtagene vicleucel",
    "ciltacabtagene autoleucel": "ciltacabtagene autoleucel",
    "carvykti": "ciltacabtagene autoleucel",
    "cilta-cel": "ciltacabtagene autoleucel",
    "belantamab mafodotin": "belantamab mafodotin",
    "belantamab": "belantamab mafodotin",
    "autologous stem cell transplant": "autologous stem cell transplant",
    "asct": "autologous stem cell transplant",
    "stem cell transplant": "autologous stem cell transplant",
    "transplant": "autologous stem cell transplant",
}

REQUESTED_NAMES: Final = ("elranatamab", "elranatamab-bcmm", "elrexfio", "elrexio")
"""The requested drug (the policy's own pages also spell the brand "Elrexio")."""

_D, _LEN, _POM, _THAL = "dexamethasone", "lenalidomide", "pomalidomide", "thalidomide"
_BTZ, _CFZ, _IXA, _DARA, _ISA = "bortezomib", "carfilzomib", "ixazomib", "daratumumab", "isatuximab"

REGIMENS: Final[dict[str, tuple[str, ...]]] = {
    # core abbreviations (folded: lower case, no hyphen or space)
    "vrd": (_BTZ, _LEN, _D),
    "rvd": (_LEN, _BTZ, _D),
    "krd": (_CFZ, _LEN, _D),
    "ird": (_IXA, _LEN, _D),
    "drd": (_DARA, _LEN, _D),
    "dvrd": (_DARA, _BTZ, _LEN, _D),
    "daravrd": (_DARA, _BTZ, _LEN, _D),
    "dvd": (_DARA, _BTZ, _D),
    "daravd": (_DARA, _BTZ, _D),
    "dkd": (_DARA, _CFZ, _D),
    "darakd": (_DARA, _CFZ, _D),
    "dpd": (_DARA, _POM, _D),
    "darapd": (_DARA, _POM, _D),
    "darard": (_DARA, _LEN, _D),
    "isapd": (_ISA, _POM, _D),
    "isakd": (_ISA, _CFZ, _D),
    "kpd": (_CFZ, _POM, _D),
    "pvd": (_POM, _BTZ, _D),
    "epd": ("elotuzumab", _POM, _D),
    "elopd": ("elotuzumab", _POM, _D),
    "erd": ("elotuzumab", _LEN, _D),
    "elord": ("elotuzumab", _LEN, _D),
    "vtd": (_BTZ, _THAL, _D),
    "cybord": ("cyclophosphamide", _BTZ, _D),
    "vcd": (_BTZ, "cyclophosphamide", _D),
    "svd": ("selinexor", _BTZ, _D),
    "xvd": ("selinexor", _BTZ, _D),
    "vmp": (_BTZ, "melphalan", "prednisone"),
    "dvmp": (_DARA, _BTZ, "melphalan", "prednisone"),
}
"""Regimen abbreviations of three or more letters, folded, and their agents (domain brief:
"d or D = dexamethasone, except a leading D or Dara = daratumumab")."""

TWO_LETTER_REGIMENS: Final[dict[str, tuple[str, ...]]] = {
    "Rd": (_LEN, _D),
    "Pd": (_POM, _D),
    "Kd": (_CFZ, _D),
    "Vd": (_BTZ, _D),
}
"""Matched only as written: ``PD`` is also progressive disease, ``RD`` and ``KD`` are not used."""

CLASS_OF: Final[dict[str, DrugClass]] = {std: cls for cls, names in CLASS_AGENTS.items() for std in names.values()}
"""Standard generic name -> its A.ii class."""
_STANDARD: Final[dict[str, str]] = {
    **{k: v for names in CLASS_AGENTS.values() for k, v in names.items()},
    **OTHER_AGENTS,
}


def _alternation(names: list[str]) -> str:
    # Longest first, so "darzalex faspro" wins over "darzalex"; spaces and hyphens in a name match
    # any run of spaces or hyphens.
    parts = [re.escape(n).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]*") for n in names]
    return "|".join(sorted(parts, key=len, reverse=True))


_NAMES: Final = re.compile(r"(?<![a-z0-9])(" + _alternation(list(_STANDARD)) + r")(?![a-z0-9])")
_REQUESTED: Final = re.compile(r"(?<![a-z0-9])(" + _alternation(list(REQUESTED_NAMES)) + r")(?![a-z0-9])")
# A regimen abbreviation: an optional prefix (dara, isa, elo, d) then a core, hyphens or spaces
# allowed between them; compared with the separators removed.
_REGIMEN: Final = re.compile(r"(?<![a-z0-9])((?:dara|isa|elo|d)?[\s-]?[a-z]{2,6})(?![a-z0-9])")
_TWO_LETTER: Final = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(TWO_LETTER_REGIMENS) + r")(?![A-Za-z0-9])")


def fold(text: str) -> str:
    """Lower case, accents removed, ® ™ © and punctuation other than hyphens as spaces, one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    plain = re.sub(r"[^a-z0-9\-\s]", " ", plain)
    return " ".join(plain.split())


@dataclass(frozen=True, slots=True)
class AgentReading:
    """What one regimen entry was read as."""

    agents: tuple[str, ...]
    """Standard generic names recognised in it (in order, no repeats)."""
    classes: frozenset[DrugClass]
    requested_drug: bool
    """It names elranatamab, the drug being requested."""

    @property
    def recognised(self) -> bool:
        return bool(self.agents) or self.requested_drug


@lru_cache(maxsize=8192)
def read_agent(entry: str) -> AgentReading:
    """Read one regimen entry: agents, A.ii classes, and whether it is the requested drug.

    >>> read_agent("Dara-Pd").agents
    ('daratumumab', 'pomalidomide', 'dexamethasone')
    >>> sorted(read_agent("lenalidomida 25 mg").classes)
    ['immunomodulatory']
    >>> read_agent("Elrexfio").requested_drug
    True
    >>> read_agent("XYZ-123").recognised
    False
    """
    folded = fold(entry)
    found: list[str] = []
    for m in _NAMES.finditer(folded):
        key = " ".join(m.group(1).replace("-", " ").split())
        std = _STANDARD.get(key) or _STANDARD.get(m.group(1)) or _STANDARD.get(key.replace(" ", "-"))
        if std is not None and std not in found:
            found.append(std)
    for m in _REGIMEN.finditer(folded):
        core = re.sub(r"[\s-]", "", m.group(1))
        for agent in REGIMENS.get(core, ()):
            if agent not in found:
                found.append(agent)
    for m in _TWO_LETTER.finditer(entry):
        for agent in TWO_LETTER_REGIMENS[m.group(1)]:
            if agent not in found:
                found.append(agent)
    classes = frozenset(CLASS_OF[a] for a in found if a in CLASS_OF)
    return AgentReading(tuple(found), classes, _REQUESTED.search(folded) is not None)


def classes_of(agent: str) -> frozenset[DrugClass]:
    """The A.ii classes one regimen entry names (empty for other or unrecognised agents).

    >>> sorted(classes_of("Daratumumab and Hyaluronidase-fihj"))
    ['anti_cd38']
    >>> sorted(classes_of("VRd"))
    ['immunomodulatory', 'proteasome_inhibitor']
    >>> sorted(classes_of("dexamethasone"))
    []
    """
    return read_agent(agent).classes


CLASS_SHORT: Final[dict[DrugClass, str]] = {
    "anti_cd38": "anti-CD38",
    "proteasome_inhibitor": "PI",
    "immunomodulatory": "IMiD",
}
