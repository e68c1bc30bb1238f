"""How one entry of a request's prior lines is read: its agents, their A.ii classes, and what else it says.

Policy A.ii: "an anti-CD38 monoclonal antibody (e.g., daratumumab), a proteasome inhibitor
(e.g., bortezomib, ixazomib, or carfilzomib), and an immunomodulatory agent (e.g., lenalidomide
or pomalidomide)". The class members below are every FDA-approved agent of each class in multiple
myeloma, by generic name (English and Spanish), US brand name and the shorthand prescribers write.

Reading one regimen item (:func:`read_agent`):

* Text is folded first: lower case, accents removed (``melfalán`` = ``melfalan``), trademark
  signs and punctuation other than hyphens dropped, whitespace collapsed.
* Names are matched as whole words anywhere in the text, so FDA biologic suffixes
  (``daratumumab and hyaluronidase-fihj``, ``isatuximab-irfc``), doses and notes are tolerated.
* Regimen abbreviations (``VRd``, ``KRd``, ``Dara-KRd``, ``D-RVd``, ``Isa-VRd``, ``KCd``, ``DT-PACE``, ...)
  yield **every** agent in them: a prefix (``dara``/``d`` = daratumumab, ``isa`` = isatuximab, ``elo``
  = elotuzumab) joins any core (:data:`CORES`). Cores of three or more letters match in any case; the
  two-letter ones (``Rd``, ``Pd``, ``Kd``, ``Vd``, ``Td``) only as written when they stand alone,
  because ``PD`` also means progressive disease.
* Elranatamab itself, under any name (generic, ``Elrexfio``, the policy's own ``Elrexio``, the trial
  code ``PF-06863135``, and any word starting ``elran`` or ``elrex``), is the requested drug.
* Supportive care (bone agents, radiation, growth factors, IVIG, antivirals, ...) and placeholders
  (``N/A``, ``none``, ``ninguno``, ``observación``, ``unknown``) are read as what they are: not
  anti-myeloma therapy.
* Whatever is left once every known name, dose, schedule word and role word is taken out is
  *unread*: the item is quoted verbatim to the reviewer (an investigational code, a misspelling, a
  drug this table does not know). An item with unread text never makes a line on its own.
* Role words (maintenance, consolidation, conditioning, bridging, lymphodepletion, relapse, in English
  and Spanish) tell :mod:`policy.lines` how the entry joins its neighbours (IMWG).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

DrugClass = Literal["anti_cd38", "proteasome_inhibitor", "immunomodulatory"]
Role = Literal["maintenance", "consolidation", "induction", "conditioning", "bridging", "lymphodepletion", "relapse"]

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
        "isa": "isatuximab",
    },
    "proteasome_inhibitor": {
        "bortezomib": "bortezomib",
        "bortezomibe": "bortezomib",
        "velcade": "bortezomib",
        "boruzu": "bortezomib",
        "vel": "bortezomib",
        "btz": "bortezomib",
        "carfilzomib": "carfilzomib",
        "carfilzomibe": "carfilzomib",
        "kyprolis": "carfilzomib",
        "carfil": "carfilzomib",
        "cfz": "carfilzomib",
        "kyp": "carfilzomib",
        "ixazomib": "ixazomib",
        "ixazomibe": "ixazomib",
        "ninlaro": "ixazomib",
    },
    "immunomodulatory": {
        "lenalidomide": "lenalidomide",
        "lenalidomida": "lenalidomide",
        "revlimid": "lenalidomide",
        "rev": "lenalidomide",
        "len": "lenalidomide",
        "lena": "lenalidomide",
        "lenalid": "lenalidomide",
        "pomalidomide": "pomalidomide",
        "pomalidomida": "pomalidomide",
        "pomalyst": "pomalidomide",
        "pom": "pomalidomide",
        "poma": "pomalidomide",
        "imnovid": "pomalidomide",
        "thalidomide": "thalidomide",
        "talidomida": "thalidomide",
        "thalomid": "thalidomide",
        "thal": "thalidomide",
    },
}

ASCT: Final = "autologous stem cell transplant"
ALLO: Final = "allogeneic stem cell transplant"
CAR_T: Final = "CAR-T cell therapy"
IDE_CEL: Final = "idecabtagene vicleucel"
CILTA_CEL: Final = "ciltacabtagene autoleucel"
STEROIDS: Final = frozenset({"dexamethasone", "prednisone", "methylprednisolone"})
"""Corticosteroids: part of most regimens, but an entry of a steroid alone is not read as a line."""
TRANSPLANTS: Final = frozenset({ASCT, ALLO})
CELL_THERAPIES: Final = frozenset({CAR_T, IDE_CEL, CILTA_CEL})
LYMPHODEPLETING: Final = frozenset({"fludarabine"})
"""Given before CAR-T cells: part of the CAR-T line, never a line of its own."""

OTHER_AGENTS: Final[dict[str, str]] = {
    "dexamethasone": "dexamethasone",
    "dexametasona": "dexamethasone",
    "dex": "dexamethasone",
    "decadron": "dexamethasone",
    "prednisone": "prednisone",
    "prednisona": "prednisone",
    "methylprednisolone": "methylprednisolone",
    "metilprednisolona": "methylprednisolone",
    "solu-medrol": "methylprednisolone",
    "cyclophosphamide": "cyclophosphamide",
    "ciclofosfamida": "cyclophosphamide",
    "cytoxan": "cyclophosphamide",
    "melphalan": "melphalan",
    "melfalan": "melphalan",
    "alkeran": "melphalan",
    "evomela": "melphalan",
    "melphalan flufenamide": "melphalan flufenamide",
    "melflufen": "melphalan flufenamide",
    "pepaxto": "melphalan flufenamide",
    "elotuzumab": "elotuzumab",
    "empliciti": "elotuzumab",
    "elo": "elotuzumab",
    "selinexor": "selinexor",
    "xpovio": "selinexor",
    "panobinostat": "panobinostat",
    "farydak": "panobinostat",
    "venetoclax": "venetoclax",
    "venclexta": "venetoclax",
    "bendamustine": "bendamustine",
    "bendamustina": "bendamustine",
    "treanda": "bendamustine",
    "doxorubicin": "doxorubicin",
    "doxorrubicina": "doxorubicin",
    "doxorubicina": "doxorubicin",
    "adriamycin": "doxorubicin",
    "liposomal doxorubicin": "doxorubicin",
    "doxil": "doxorubicin",
    "cisplatin": "cisplatin",
    "cisplatino": "cisplatin",
    "etoposide": "etoposide",
    "etoposido": "etoposide",
    "carmustine": "carmustine",
    "carmustina": "carmustine",
    "bcnu": "carmustine",
    "vincristine": "vincristine",
    "vincristina": "vincristine",
    "teclistamab": "teclistamab",
    "tecvayli": "teclistamab",
    "talquetamab": "talquetamab",
    "talvey": "talquetamab",
    "linvoseltamab": "linvoseltamab",
    "lynozyfic": "linvoseltamab",
    "belantamab mafodotin": "belantamab mafodotin",
    "belantamab": "belantamab mafodotin",
    "blenrep": "belantamab mafodotin",
    "fludarabine": "fludarabine",
    "fludarabina": "fludarabine",
    "flu": "fludarabine",
    "idecabtagene vicleucel": IDE_CEL,
    "idecabtagene": IDE_CEL,
    "abecma": IDE_CEL,
    "ide-cel": IDE_CEL,
    "ciltacabtagene autoleucel": CILTA_CEL,
    "ciltacabtagene": CILTA_CEL,
    "carvykti": CILTA_CEL,
    "cilta-cel": CILTA_CEL,
    "car-t": CAR_T,
    "car t": CAR_T,
    "car-t cell therapy": CAR_T,
    "celulas car-t": CAR_T,
    "autologous stem cell transplant": ASCT,
    "autologous stem cell transplantation": ASCT,
    "autologous transplant": ASCT,
    "autologous sct": ASCT,
    "autologous hsct": ASCT,
    "asct": ASCT,
    "auto-sct": ASCT,
    "autosct": ASCT,
    "auto-hct": ASCT,
    "autohct": ASCT,
    "ahct": ASCT,
    "auto-hsct": ASCT,
    "ahsct": ASCT,
    "auto-transplant": ASCT,
    "autotransplant": ASCT,
    "hsct": ASCT,
    "sct": ASCT,
    "stem cell transplant": ASCT,
    "stem cell transplantation": ASCT,
    "bone marrow transplant": ASCT,
    "bmt": ASCT,
    "transplant": ASCT,
    "tandem transplant": ASCT,
    "trasplante": ASCT,
    "trasplante autologo": ASCT,
    "trasplante de celulas madre": ASCT,
    "trasplante autologo de celulas madre": ASCT,
    "trasplante de medula osea": ASCT,
    "tamo": ASCT,
    "high-dose melphalan": ASCT,
    "melphalan 200": ASCT,
    "mel200": ASCT,
    "mel 200": ASCT,
    "mel140": ASCT,
    "hdm": ASCT,
    "melfalan en dosis altas": ASCT,
    "allogeneic stem cell transplant": ALLO,
    "allogeneic transplant": ALLO,
    "allo-sct": ALLO,
    "allo-hct": ALLO,
    "allosct": ALLO,
    "trasplante alogenico": ALLO,
}
"""Recognised anti-myeloma agents and procedures outside the three A.ii classes. High-dose melphalan
(conditioning) is read as the transplant it prepares."""

SUPPORTIVE: Final[dict[str, str]] = {
    name: std
    for std, names in {
        "zoledronic acid": (
            "zoledronic acid", "acido zoledronico", "zoledronate", "zoledronato", "zometa", "reclast", "zol",
        ),
        "pamidronate": ("pamidronate", "pamidronato", "aredia"),
        "denosumab": ("denosumab", "xgeva", "prolia"),
        "radiation": (
            "radiation", "radiation therapy", "radiotherapy", "radioterapia", "radiacion", "xrt", "rt", "ebrt",
            "sbrt", "palliative radiation", "irradiation",
        ),
        "a growth factor": (
            "filgrastim", "neupogen", "zarxio", "granix", "pegfilgrastim", "neulasta", "g-csf", "gcsf", "epoetin",
            "epoetin alfa", "epoetina", "procrit", "epogen", "retacrit", "darbepoetin", "aranesp", "eritropoyetina",
            "erythropoietin",
        ),
        "immune globulin": (
            "ivig", "igiv", "immune globulin", "immunoglobulin", "inmunoglobulina", "gammagard", "privigen",
        ),
        "an antiviral or antibiotic": (
            "acyclovir", "aciclovir", "valacyclovir", "valaciclovir", "valtrex", "levofloxacin", "levofloxacina",
            "bactrim", "tmp-smx", "trimethoprim", "clarithromycin", "claritromicina", "biaxin",
        ),
        "an anticoagulant": (
            "aspirin", "aspirina", "asa", "enoxaparin", "enoxaparina", "lovenox", "apixaban", "eliquis",
            "rivaroxaban", "xarelto", "warfarin",
        ),
        "a transfusion or procedure": (
            "transfusion", "transfusiones", "plasmapheresis", "plasmaferesis", "plasma exchange", "kyphoplasty",
            "cifoplastia", "vertebroplasty", "vertebroplastia", "surgery", "cirugia", "dialysis", "dialisis",
        ),
        "supportive care": (
            "supportive care", "cuidado de apoyo", "cuidados de apoyo", "palliative care", "cuidados paliativos",
            "hospice", "hospicio", "allopurinol", "alopurinol", "ondansetron", "hydration", "hidratacion",
            "pain management", "calcium", "calcio", "vitamin d", "vitamina d", "bisphosphonate", "bifosfonato",
        ),
    }.items()
    for name in names
}  # fmt: skip
"""Supportive care is not anti-myeloma therapy (domain brief): read, named, never a line."""

PLACEHOLDERS: Final = (
    "n a", "na", "n d", "nd", "none", "ninguno", "ninguna", "nada", "no", "nil", "null", "unknown", "unk",
    "desconocido", "desconocida", "observation", "observacion", "watch and wait", "watchful waiting",
    "active surveillance", "vigilancia", "not applicable", "no aplica", "tbd", "pending", "pendiente",
    "see notes", "ver notas", "other", "otro", "unspecified", "no especificado", "no treatment",
    "sin tratamiento", "not given", "no dado",
)  # fmt: skip
"""Words that say no therapy was given or none is known ("N/A", "none", "ninguno", "observación", "unknown")."""

REQUESTED_NAMES: Final = (
    "elranatamab", "elranatamab-bcmm", "elrexfio", "elrexio", "pf-06863135", "pf06863135", "pf-6863135",
)  # fmt: skip
"""The requested drug (the policy's own pages also spell the brand "Elrexio"; PF-06863135 is its trial code)."""

ROLE_WORDS: Final[dict[str, Role]] = {
    "maintenance": "maintenance",
    "maint": "maintenance",
    "mantenimiento": "maintenance",
    "mant": "maintenance",
    "consolidation": "consolidation",
    "consolidacion": "consolidation",
    "consol": "consolidation",
    "induction": "induction",
    "induccion": "induction",
    "conditioning": "conditioning",
    "acondicionamiento": "conditioning",
    "bridging": "bridging",
    "bridge": "bridging",
    "puente": "bridging",
    "lymphodepletion": "lymphodepletion",
    "lymphodepleting": "lymphodepletion",
    "linfodeplecion": "lymphodepletion",
    "salvage": "relapse",
    "rescate": "relapse",
    "relapse": "relapse",
    "recaida": "relapse",
    "progression": "relapse",
    "progresion": "relapse",
    "retreatment": "relapse",
    "retratamiento": "relapse",
    "rechallenge": "relapse",
    "re-challenge": "relapse",
    "reinduction": "relapse",
    "reinduccion": "relapse",
}
"""Words that place an entry in IMWG's planned sequence (or mark it as given after a relapse)."""

FILLER: Final = frozenset(
    (
        "mg", "mcg", "g", "ml", "m2", "kg", "iv", "sc", "sq", "subq", "subcutaneous", "subcutaneo", "subcutanea",
        "po", "oral", "weekly", "daily", "biweekly", "monthly", "semanal", "semanales", "diario", "diaria",
        "mensual", "quincenal", "day", "days", "dia", "dias", "cycle", "cycles", "ciclo", "ciclos", "x", "q", "qw",
        "q2w", "q4w", "qd", "bid", "tid", "week", "weeks", "semana", "semanas", "month", "months", "mes", "meses",
        "year", "years", "ano", "anos", "and", "y", "e", "plus", "with", "con", "w", "of", "de", "del", "la", "el",
        "los", "las", "the", "at", "en", "a", "an", "for", "por", "para", "then", "luego", "followed", "by",
        "seguido", "seguida", "after", "despues", "before", "antes", "dose", "doses", "dosis", "low", "high",
        "baja", "bajo", "alta", "alto", "altas", "bajas", "lite", "light", "modified", "modificado", "reduced",
        "reducida", "standard", "regimen", "regimens", "esquema", "therapy", "treatment", "tratamiento", "terapia",
        "cell", "cells", "celulas", "single", "agent", "agente", "unico", "combination", "combinacion", "ongoing",
        "en", "curso", "current", "actual", "completed", "completado", "stopped", "suspendido", "discontinued",
        "line", "linea", "prior", "previo", "previa", "given", "dado", "mono", "monotherapy", "monoterapia", "only",
        "solo", "sola", "tandem", "first", "second", "third", "primera", "primer", "segunda", "segundo", "tercera",
        "tercero", "hyaluronidase", "hialuronidasa", "faspro", "fihj", "irfc", "cqyv", "tgvs", "bcmm", "blmf",
        "gcpt", "rwlc", "cel", "total"
    )
)  # fmt: skip
"""Dose, schedule and connecting words a regimen item may carry besides its names (English and Spanish)."""

_D, _LEN, _POM, _THAL = "dexamethasone", "lenalidomide", "pomalidomide", "thalidomide"
_BTZ, _CFZ, _IXA, _DARA, _ISA = "bortezomib", "carfilzomib", "ixazomib", "daratumumab", "isatuximab"
_CY, _MEL, _PRED, _SEL, _ELO = "cyclophosphamide", "melphalan", "prednisone", "selinexor", "elotuzumab"
_PACE = ("cisplatin", "doxorubicin", _CY, "etoposide")

CORES: Final[dict[str, tuple[str, ...]]] = {
    # three letters or more: any case, with or without hyphens or spaces
    "vrd": (_BTZ, _LEN, _D),
    "rvd": (_LEN, _BTZ, _D),
    "krd": (_CFZ, _LEN, _D),
    "ird": (_IXA, _LEN, _D),
    "vtd": (_BTZ, _THAL, _D),
    "vcd": (_BTZ, _CY, _D),
    "cvd": (_CY, _BTZ, _D),
    "cybord": (_CY, _BTZ, _D),
    "vmp": (_BTZ, _MEL, _PRED),
    "mpt": (_MEL, _PRED, _THAL),
    "mpr": (_MEL, _PRED, _LEN),
    "vmpt": (_BTZ, _MEL, _PRED, _THAL),
    "kcd": (_CFZ, _CY, _D),
    "icd": (_IXA, _CY, _D),
    "ctd": (_CY, _THAL, _D),
    "crd": (_CY, _LEN, _D),
    "pcd": (_POM, _CY, _D),
    "kpd": (_CFZ, _POM, _D),
    "pvd": (_POM, _BTZ, _D),
    "svd": (_SEL, _BTZ, _D),
    "xvd": (_SEL, _BTZ, _D),
    "xpd": (_SEL, _POM, _D),
    "spd": (_SEL, _POM, _D),
    "skd": (_SEL, _CFZ, _D),
    "xkd": (_SEL, _CFZ, _D),
    "epd": (_ELO, _POM, _D),
    "erd": (_ELO, _LEN, _D),
    "bird": (_LEN, _D),  # clarithromycin (Biaxin), lenalidomide, dexamethasone: the antibiotic is not read
    "vad": ("vincristine", "doxorubicin", _D),
    "pace": _PACE,
    "dcep": (_D, _CY, "etoposide", "cisplatin"),
    "dtpace": (_D, _THAL, *_PACE),
    "vdtpace": (_BTZ, _D, _THAL, *_PACE),
    "vdpace": (_BTZ, _D, *_PACE),
    # two letters: alone only as written (capital, lower-case d); after a prefix, any case
    "rd": (_LEN, _D),
    "pd": (_POM, _D),
    "kd": (_CFZ, _D),
    "vd": (_BTZ, _D),
    "td": (_THAL, _D),
}
"""Regimen cores, folded, and their agents (domain brief: "d or D = dexamethasone, except a leading D
or Dara = daratumumab"). A prefix adds its antibody: ``Dara-KRd`` = daratumumab + carfilzomib,
lenalidomide, dexamethasone."""
PREFIXES: Final[dict[str, str]] = {"dara": _DARA, "d": _DARA, "isa": _ISA, "elo": _ELO}
TWO_LETTER: Final = frozenset({"Rd", "Pd", "Kd", "Vd", "Td"})

CLASS_OF: Final[dict[str, DrugClass]] = {std: cls for cls, names in CLASS_AGENTS.items() for std in names.values()}
"""Standard generic name -> its A.ii class."""
_STANDARD: Final[dict[str, str]] = {
    **{k: v for names in CLASS_AGENTS.values() for k, v in names.items()},
    **OTHER_AGENTS,
}


def _alternation(names: list[str]) -> str:
    # Longest first, so "darzalex faspro" wins over "darzalex"; spaces and hyphens in a name match
    # any run of spaces or hyphens, or none.
    parts = [re.escape(n).replace(r"\ ", r"[\s-]*").replace(r"\-", r"[\s-]*") for n in names]
    return "|".join(sorted(parts, key=len, reverse=True))


def _words(names: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])(" + _alternation(names) + r")(?![a-z0-9])")


_NAMES: Final = _words(list(_STANDARD))
_SUPPORTIVE: Final = _words(list(SUPPORTIVE))
_PLACEHOLDER: Final = _words(list(PLACEHOLDERS))
_ROLES: Final = _words(list(ROLE_WORDS))
_REQUESTED: Final = re.compile(
    r"(?<![a-z0-9])(?:" + _alternation(list(REQUESTED_NAMES)) + r"|elran[a-z]*|elrex[a-z]*)(?![a-z0-9])"
)
# A regimen abbreviation: an optional prefix (dara, isa, elo, d), then a core, hyphens or spaces
# allowed between them; compared with the separators removed. "ICD-10" is not ICd.
_REGIMEN: Final = re.compile(r"(?<![a-z0-9])((?:dara|isa|elo|d)?[\s-]?[a-z]{2,7})(?![a-z0-9]|-\d)")
_TWO_LETTER: Final = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(sorted(TWO_LETTER)) + r")(?![A-Za-z0-9])")
_COMPOUND: Final = re.compile(r"(?<![a-z0-9])(v?d?t?)[\s-]+(pace)(?![a-z0-9])")
_NUMERIC: Final = re.compile(r"^(?:\d[\d.,/]*(?:mg|mcg|g|ml|m2|mgm2|x|d|w|h|wk|wks)?|[cdq]\d{1,2}[wd]?|x\d{1,2})$")


def fold(text: str) -> str:
    """Lower case, accents removed, ® ™ © and punctuation other than hyphens as spaces, one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    plain = re.sub(r"[^a-z0-9\-\s]", " ", plain)
    return " ".join(plain.split())


@dataclass(frozen=True, slots=True)
class AgentReading:
    """What one regimen item was read as."""

    agents: tuple[str, ...]
    """Standard names of the anti-myeloma agents and procedures recognised in it (in order, no repeats)."""
    classes: frozenset[DrugClass]
    requested_drug: bool
    """It names elranatamab, the drug being requested."""
    supportive: tuple[str, ...] = ()
    """Supportive care it names (not anti-myeloma therapy)."""
    placeholder: bool = False
    """It names nothing but a placeholder ("N/A", "none", "ninguno", "observación", "unknown") or is empty."""
    unread: bool = False
    """Text was left that the engine could not read (an unknown name, an investigational code)."""
    roles: frozenset[Role] = frozenset()

    @property
    def recognised(self) -> bool:
        """Every word of it was read (an item with unread text is not recognised)."""
        return not self.unread and (bool(self.agents) or self.requested_drug or bool(self.supportive))

    @property
    def therapy(self) -> bool:
        """It names an anti-myeloma agent other than a corticosteroid, or a transplant or CAR-T."""
        return any(a not in STEROIDS for a in self.agents)


def _regimen_agents(token: str) -> tuple[str, ...]:
    """The agents of one abbreviation token (separators removed), or () when it is not one."""
    if len(token) >= 3 and token in CORES:
        return CORES[token]
    for prefix, antibody in PREFIXES.items():
        core = token[len(prefix) :]
        if token.startswith(prefix) and core in CORES:
            return (antibody, *CORES[core])
    return ()


@lru_cache(maxsize=8192)
def read_agent(entry: str) -> AgentReading:
    """Read one regimen item: agents, A.ii classes, the requested drug, supportive care, what was not read.

    >>> read_agent("Dara-Pd").agents
    ('daratumumab', 'pomalidomide', 'dexamethasone')
    >>> read_agent("Dara-KRd").agents
    ('daratumumab', 'carfilzomib', 'lenalidomide', 'dexamethasone')
    >>> sorted(read_agent("lenalidomida 25 mg").classes)
    ['immunomodulatory']
    >>> read_agent("Elrexfio").requested_drug, read_agent("PF-06863135").requested_drug
    (True, True)
    >>> read_agent("XYZ-123").unread, read_agent("zoledronic acid").supportive, read_agent("N/A").placeholder
    (True, ('zoledronic acid',), True)
    """
    folded = _COMPOUND.sub(lambda m: m.group(1) + m.group(2), fold(entry))
    mask = bytearray(len(folded))
    found: list[str] = []

    def take(m: re.Match[str], group: int = 1) -> None:
        mask[m.start(group) : m.end(group)] = b"\x01" * (m.end(group) - m.start(group))

    for m in _NAMES.finditer(folded):
        key = re.sub(r"[\s-]+", " ", m.group(1))
        std = _STANDARD.get(m.group(1)) or _STANDARD.get(key) or _STANDARD.get(key.replace(" ", "-"))
        std = std or _STANDARD_SQUEEZED.get(_squeeze(m.group(1)))
        if std is not None:
            take(m)
            if std not in found:
                found.append(std)
    for m in _REGIMEN.finditer(folded):
        agents = _regimen_agents(re.sub(r"[\s-]", "", m.group(1)))
        if agents:
            take(m)
            found.extend(a for a in agents if a not in found)
    written = {m.group(1).lower() for m in _TWO_LETTER.finditer(entry)}
    for token in written:
        found.extend(a for a in CORES[token] if a not in found)
    requested = False
    for m in _REQUESTED.finditer(folded):
        requested = True
        take(m, 0)
    supportive: list[str] = []
    for m in _SUPPORTIVE.finditer(folded):
        if mask[m.start(1)]:
            continue
        take(m)
        std = SUPPORTIVE.get(m.group(1)) or _SUPPORTIVE_SQUEEZED.get(_squeeze(m.group(1)))
        if std is not None and std not in supportive:
            supportive.append(std)
    roles: set[Role] = set()
    for m in _ROLES.finditer(folded):
        take(m)
        role = ROLE_WORDS.get(m.group(1)) or ROLE_WORDS.get(_squeeze(m.group(1)))
        if role is not None:
            roles.add(role)
    placeholders = 0
    for m in _PLACEHOLDER.finditer(folded):
        if not mask[m.start(1)]:
            take(m)
            placeholders += 1
    left = "".join(ch if not mask[i] else " " for i, ch in enumerate(folded))
    unread = any(t not in FILLER and t not in written and not _NUMERIC.match(t) for t in re.split(r"[\s-]+", left) if t)
    if any(a in LYMPHODEPLETING for a in found):
        roles.add("lymphodepletion")
    if roles & {"bridging", "lymphodepletion", "induction"}:
        # "bridging before CAR-T", "induction before ASCT": the cells or the transplant are named, not given here
        found = [a for a in found if a not in TRANSPLANTS and a not in CELL_THERAPIES]
    if "high-dose melphalan" in folded or "hdm" in folded.split():
        roles.add("conditioning")
    classes = frozenset(CLASS_OF[a] for a in found if a in CLASS_OF)
    empty = not found and not requested and not supportive and not unread
    return AgentReading(
        tuple(found),
        classes,
        requested,
        tuple(supportive),
        placeholder=empty,
        unread=unread,
        roles=frozenset(roles),
    )


def _squeeze(text: str) -> str:
    return re.sub(r"[\s-]+", "", text)


_STANDARD_SQUEEZED: Final = {_squeeze(k): v for k, v in _STANDARD.items()}
_SUPPORTIVE_SQUEEZED: Final = {_squeeze(k): v for k, v in SUPPORTIVE.items()}


def classes_of(agent: str) -> frozenset[DrugClass]:
    """The A.ii classes one regimen item names (empty for other or unrecognised agents).

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
