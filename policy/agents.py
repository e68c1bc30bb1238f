"""The drug classes criterion A.ii names, and how agent names on a request map to them.

Policy A.ii: "an anti-CD38 monoclonal antibody (e.g., daratumumab), a proteasome inhibitor
(e.g., bortezomib, ixazomib, or carfilzomib), and an immunomodulatory agent (e.g., lenalidomide
or pomalidomide)". The agents below are the FDA-approved members of each class in multiple
myeloma, by generic and US brand name.

Matching is case-insensitive and by whole word anywhere in the name, so brand names,
FDA biologic suffixes (``daratumumab and hyaluronidase-fihj``, ``isatuximab-irfc``),
trademark signs, doses and extra whitespace are all tolerated. Abbreviations (``VRd``, ``dara``)
and misspellings are not guessed: such an agent still counts toward the number of lines, but
not toward a class, and a reviewer sees it in the criterion's evidence.
"""

from __future__ import annotations

import re
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
CLASS_SHORT: Final[dict[DrugClass, str]] = {
    "anti_cd38": "anti-CD38",
    "proteasome_inhibitor": "PI",
    "immunomodulatory": "IMiD",
}

AGENTS: Final[dict[DrugClass, tuple[str, ...]]] = {
    # daratumumab IV (Darzalex); daratumumab and hyaluronidase-fihj SC (Darzalex Faspro);
    # isatuximab-irfc (Sarclisa)
    "anti_cd38": ("daratumumab", "darzalex", "darzalex faspro", "isatuximab", "sarclisa"),
    "proteasome_inhibitor": ("bortezomib", "velcade", "carfilzomib", "kyprolis", "ixazomib", "ninlaro"),
    "immunomodulatory": (
        "lenalidomide",
        "revlimid",
        "pomalidomide",
        "pomalyst",
        "thalidomide",
        "thalomid",
    ),
}

_CLASS_OF: Final[dict[str, DrugClass]] = {name: cls for cls, names in AGENTS.items() for name in names}
# Longest names first, so "darzalex faspro" wins over "darzalex" (same class either way).
_PATTERN: Final = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(_CLASS_OF, key=len, reverse=True)) + r")\b")


@lru_cache(maxsize=4096)
def classes_of(agent: str) -> frozenset[DrugClass]:
    """The A.ii classes an agent name belongs to (empty for other or unknown agents).

    >>> sorted(classes_of("Daratumumab and Hyaluronidase-fihj"))
    ['anti_cd38']
    >>> sorted(classes_of("  KYPROLIS "))
    ['proteasome_inhibitor']
    >>> sorted(classes_of("dexamethasone"))
    []
    """
    text = " ".join(agent.lower().split())
    return frozenset(_CLASS_OF[m] for m in _PATTERN.findall(text))
