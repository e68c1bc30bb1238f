"""Hypothesis strategies for ``pa.request``: every value they draw passes the contract.

    from tests.strategies import pa_requests, pa_request_dicts

``pa_request_dicts()`` draws the JSON object (as intake would send it), ``pa_requests()`` the
validated :class:`contracts.PARequest` (parsed from that JSON, so dates and timestamps go
through the same strict path as on the wire). Both request types, valid NPIs, evidence dated
before, on the edge of and after the windows (and after receipt), known agents in any spelling
and unknown ones, in-scope and out-of-scope lines of business, and now and then the far ends of
the calendar.

Member identifiers use a distinctive shape (``MBR-...``, names ``Zq...``, birth years 1920-1990,
clinical dates from 2000) so tests can assert they never leak into reasons or evidence.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from contracts import PARequest

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
KNOWN_AGENTS = (
    "daratumumab",
    "Darzalex",
    "Darzalex Faspro",
    "daratumumab and hyaluronidase-fihj",
    "isatuximab-irfc",
    "Sarclisa",
    "bortezomib",
    "Velcade",
    "carfilzomib",
    "Kyprolis",
    "ixazomib",
    "Ninlaro",
    "lenalidomide",
    "Revlimid",
    "pomalidomide",
    "Pomalyst",
    "thalidomide",
    "Thalomid",
)
OTHER_AGENTS = ("dexamethasone", "elotuzumab", "melphalan", "cyclophosphamide", "selinexor", "VRd", "teclistamab")
ICD_CODES = ("C90.00", "C90.01", "C90.02", "C9000", "C9002", "c90.02", "C90.03", "C90.0", "C91.00", "D47.2", "Z51.11")
DISEASE_STATUS = ("relapsed", "refractory", "relapsed_and_refractory", "newly_diagnosed", "in_remission")
DOC_TYPES = ("chart_notes", "lab_results", "pathology_report", "imaging", "oncology_note", "other")
RESPONSES = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD")
OFFSETS = (timedelta(0), timedelta(hours=-5), timedelta(hours=5, minutes=30), timedelta(hours=-10), timedelta(hours=14))


def npi_with_check_digit(base9: str) -> str:
    """The 10-digit NPI for a 9-digit base (Luhn over ``80840`` + base)."""
    digits = [int(c) for c in "80840" + base9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return base9 + str((10 - total % 10) % 10)


npis = st.text("0123456789", min_size=9, max_size=9).map(npi_with_check_digit)
ids = st.text(ID_CHARS, min_size=1, max_size=24)


def _spelled(agent: str) -> st.SearchStrategy[str]:
    return st.sampled_from([agent, agent.upper(), agent.lower(), f"  {agent} ", agent.title()])


agents = st.one_of(
    st.sampled_from(KNOWN_AGENTS).flatmap(_spelled),
    st.sampled_from(OTHER_AGENTS),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40),
)


@st.composite
def _received_at(draw: st.DrawFn) -> datetime:
    if draw(st.integers(0, 49)) == 0:  # now and then the ends of the calendar
        return draw(
            st.sampled_from(
                [
                    datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
                    datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
                ]
            )
        )
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)))
    return moment.replace(microsecond=0, tzinfo=timezone(draw(st.sampled_from(OFFSETS))))


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _near(received: date, draw: st.DrawFn, before: int = 400, after: int = 30) -> str:
    """A date around receipt: mostly inside the windows, also on their edges, stale and future."""
    edges = [0, 1, 29, 30, 31, 59, 60, 61, 89, 90, 91, -1]
    days = draw(st.one_of(st.sampled_from(edges), st.integers(-after, before)))
    try:
        return (received - timedelta(days=days)).isoformat()
    except OverflowError:
        return received.isoformat()


@st.composite
def pa_request_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ``pa.request`` as a JSON-ready dict."""
    received_at = draw(_received_at())
    received = received_at.date()
    kind = draw(st.sampled_from(["initial", "continuation"]))
    member: dict[str, Any] = {
        "member_id": "MBR-" + draw(st.text("0123456789", min_size=6, max_size=10)),
        "date_of_birth": draw(st.dates(date(1920, 1, 1), date(1990, 12, 31))).isoformat(),
    }
    if draw(st.booleans()):
        member["first_name"] = "Zq" + draw(st.text("abcdefghij", min_size=2, max_size=8))
        member["last_name"] = "Zq" + draw(st.text("klmnopqrst", min_size=2, max_size=8))
    drug: dict[str, Any] = {"hcpcs": draw(st.sampled_from(["J1323", "J1323", "J1323", "j1323", "J9999", "J3490"]))}
    if draw(st.booleans()):
        drug["ndc"] = "0069-1948-01"
    if draw(st.booleans()):
        drug["requested_start_date"] = _near(received, draw, before=60, after=60)
    if draw(st.booleans()):
        drug["requested_units"] = draw(st.one_of(st.integers(1, 100_000), st.sampled_from([608, 1216, 1912, 1988])))
    diagnosis: dict[str, Any] = {"icd10_codes": draw(st.lists(st.sampled_from(ICD_CODES), max_size=4))}
    if draw(st.integers(0, 4)) > 0:
        diagnosis["disease_status"] = draw(st.sampled_from(DISEASE_STATUS))
    lines = draw(
        st.lists(
            st.fixed_dictionaries(
                {"line": st.integers(1, 8), "regimen": st.lists(agents, min_size=1, max_size=5)},
                optional={"start_date": st.dates(date(2000, 1, 1), date(2030, 1, 1)).map(date.isoformat)},
            ),
            max_size=8,
        )
    )
    data: dict[str, Any] = {
        "schema_version": "1",
        "request_id": draw(ids),
        "received_at": _rfc3339(received_at),
        "priority": draw(st.sampled_from(["standard", "expedited"])),
        "request_type": kind,
        "line_of_business": draw(st.sampled_from(["MMM_MA", "MMM_MULTIHEALTH", "MMM_MA", "COMMERCIAL_PPO"])),
        "member": member,
        "prescriber": {"npi": draw(npis)},
        "drug": drug,
        "diagnosis": diagnosis,
        "prior_lines": lines,
        "documents": [
            {"type": draw(st.sampled_from(DOC_TYPES)), "date": _near(received, draw), "id": "DOC-" + draw(ids)}
            for _ in range(draw(st.integers(0, 6)))
        ],
    }
    if draw(st.integers(0, 5)) > 0:
        data["ecog"] = {"score": draw(st.integers(0, 5)), "assessed_on": _near(received, draw, before=60)}
    if kind == "continuation":
        cont: dict[str, Any] = {
            "prior_authorization_id": "PA-J1323-" + draw(ids),
            "therapy_start_date": _near(received, draw, before=700, after=60),
            "best_response": draw(st.sampled_from(RESPONSES)),
            "disease_progression": draw(st.booleans()),
            "unacceptable_toxicity": draw(st.booleans()),
        }
        if draw(st.booleans()):
            cont["response_since"] = _near(received, draw, before=400, after=10)
        data["continuation"] = cont
    return data


def pa_requests() -> st.SearchStrategy[PARequest]:
    """Valid :class:`PARequest` objects, parsed from JSON as the worker parses them."""
    return pa_request_dicts().map(lambda d: PARequest.model_validate_json(json.dumps(d)))


# --- biased toward approvals, and at the contract's maximum sizes (issue #17) ----------------------

APPROVABLE_LINES = (
    # (regimen as a prescriber might write it, its A.ii classes) - read by the test's own table
    (["bortezomib", "lenalidomide", "dexamethasone"], {"pi", "imid"}),
    (["VRd"], {"pi", "imid"}),
    (["Darzalex Faspro", "pomalidomide", "dexamethasone"], {"cd38", "imid"}),
    (["Dara-Pd"], {"cd38", "imid"}),
    (["daratumumab", "lenalidomida", "dexametasona"], {"cd38", "imid"}),
    (["Kyprolis", "dexamethasone"], {"pi"}),
    (["KRd"], {"pi", "imid"}),
    (["isatuximab", "Pomalyst", "dexamethasone"], {"cd38", "imid"}),
    (["Isa-Pd"], {"cd38", "imid"}),
    (["D-VRd"], {"cd38", "pi", "imid"}),
    (["ixazomib", "talidomida"], {"pi", "imid"}),
    (["selinexor", "dexamethasone"], set()),
    (["melfalán", "prednisone"], set()),
)
"""Regimens with the classes the policy names in them (anti-CD38, PI, IMiD), as the oracle reads them."""


@st.composite
def approvable_request_dicts(draw: st.DrawFn, max_sizes: bool = False) -> dict[str, Any]:
    """A request built to meet every criterion at receipt, with the spellings, dates and sizes
    varied inside the policy's windows; about a third ask for a quantity well within any period's
    labeled maximum (at most 500 units; the smallest 6-month maximum, all every 4 weeks, is 7 x 76).
    San Juan is UTC-4, so a receipt time is drawn in UTC and the local date derived by hand."""
    local_day = draw(st.dates(date(2024, 1, 1), date(2030, 12, 31)))
    hour = draw(st.integers(0, 23))
    received_at = datetime(local_day.year, local_day.month, local_day.day, hour, 5, tzinfo=UTC) + timedelta(hours=4)
    kind = draw(st.sampled_from(["initial", "continuation"]))
    n_lines = 40 if max_sizes else draw(st.integers(4, 8))
    lines = []
    picks = [APPROVABLE_LINES[9]] + [draw(st.sampled_from(APPROVABLE_LINES)) for _ in range(n_lines - 1)]
    # IMWG (issue #22): lines in time order, numbered in that order; a regimen that repeats is dated, so
    # it reads as given again later (a new line), never as the same regimen entered twice
    first = local_day - timedelta(days=60 * n_lines + draw(st.integers(0, 1000)))
    for i, (regimen, _) in enumerate(picks, start=1):
        entry: dict[str, Any] = {"line": i, "regimen": list(regimen) * (4 if max_sizes else 1)}
        entry["regimen"] = entry["regimen"][:12]
        entry["start_date"] = (first + timedelta(days=60 * (i - 1))).isoformat()
        lines.append(entry)
    n_docs = 100 if max_sizes else draw(st.integers(1, 6))
    docs = []
    for i in range(n_docs):
        dtype = draw(st.sampled_from(["oncology_note", "imaging", "lab_results", "chart_notes", "pathology_report"]))
        docs.append({"type": dtype, "date": (local_day - timedelta(days=draw(st.integers(0, 200)))).isoformat(),
                     "id": f"DOC-{i}"})  # fmt: skip
    docs.append({"type": "oncology_note", "date": (local_day - timedelta(days=draw(st.integers(0, 60)))).isoformat(),
                 "id": "DOC-note"})  # fmt: skip
    docs.append({"type": "imaging", "date": (local_day - timedelta(days=draw(st.integers(0, 90)))).isoformat(),
                 "id": "DOC-img"})  # fmt: skip
    docs = docs[-100:]
    ahead = 45 if kind == "continuation" else 30
    drug: dict[str, Any] = {"hcpcs": draw(st.sampled_from(["J1323", "j1323"]))}
    if draw(st.booleans()):
        drug["requested_start_date"] = (local_day + timedelta(days=draw(st.integers(0, ahead)))).isoformat()
    if draw(st.integers(0, 2)) == 0:
        drug["requested_units"] = draw(st.integers(1, 500))
    data: dict[str, Any] = {
        "schema_version": "1",
        "request_id": draw(ids),
        "received_at": _rfc3339(received_at),
        "priority": draw(st.sampled_from(["standard", "expedited"])),
        "request_type": kind,
        "line_of_business": draw(st.sampled_from(["MMM_MA", "MMM_MULTIHEALTH"])),
        "member": {
            "member_id": "MBR-" + draw(st.text("0123456789", min_size=6, max_size=10)),
            "date_of_birth": "1950-01-01",
        },
        "prescriber": {"npi": draw(npis)},
        "drug": drug,
        "diagnosis": {
            "icd10_codes": (["C90.02", "C90.0", "c9000", "C90.00"] * 7)[: 25 if max_sizes else draw(st.integers(1, 3))],
            "disease_status": draw(st.sampled_from(["relapsed", "refractory", "relapsed_and_refractory"])),
        },
        "prior_lines": lines if kind == "initial" else lines[:4],
        "ecog": {
            "score": draw(st.integers(0, 2)),
            "assessed_on": (local_day - timedelta(days=draw(st.integers(0, 30)))).isoformat(),
        },
        "documents": docs,
    }
    if kind == "continuation":
        start = local_day - timedelta(days=draw(st.integers(0, 700)))
        cont: dict[str, Any] = {
            "prior_authorization_id": "PA-J1323-" + draw(ids),
            "therapy_start_date": start.isoformat(),
            "best_response": draw(st.sampled_from(RESPONSES[:-1])),
            "disease_progression": False,
            "unacceptable_toxicity": False,
        }
        if draw(st.booleans()):
            held = draw(st.integers(0, (local_day - start).days))
            cont["response_since"] = (start + timedelta(days=held)).isoformat()
        data["continuation"] = cont
        data["diagnosis"]["disease_status"] = draw(st.sampled_from(["relapsed", "in_remission", "refractory"]))
    return data


def biased_request_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """Half approvable requests (half of those at the contract's maximum sizes), half anything."""
    return st.one_of(
        approvable_request_dicts(),
        approvable_request_dicts(max_sizes=True),
        pa_request_dicts(),
        pa_request_dicts(),
    )
