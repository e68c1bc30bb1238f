"""Hand-built determinations for the report tests: nine requests whose answers are worked out by
hand in tests/worker/test_report.py (the plan's time zone is UTC-4 all year)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from contracts.models import PADetermination

MEMBER_ID = "MBR-SECRET-77"
NPI = "1234567893"


def _ts(value: str | datetime) -> str:
    return value if isinstance(value, str) else value.isoformat().replace("+00:00", "Z")


def det(
    det_id: str,
    request_id: str,
    *,
    received: str,
    decided: str,
    decision: str = "approved",
    pend_reason: str | None = None,
    priority: str = "standard",
    lob: str = "MMM_MA",
    criteria: list[tuple[str, str, str]] | None = None,
    decided_by: dict[str, Any] | None = None,
    final: bool | None = None,
    supersedes: str | None = None,
    clock_hours: int | None = None,
) -> dict[str, Any]:
    """One determination as JSON-ready data; ``decided_by``/``final`` left out unless given (older data)."""
    rec = datetime.fromisoformat(received.replace("Z", "+00:00"))
    hours = clock_hours if clock_hours is not None else (24 if priority == "expedited" else 72)
    out: dict[str, Any] = {
        "schema_version": "1",
        "determination_id": det_id,
        "request_id": request_id,
        "request_type": "initial",
        "priority": priority,
        "line_of_business": lob,
        "member_id": MEMBER_ID,
        "prescriber_npi": NPI,
        "decision": decision,
        "pend_reason": pend_reason,
        "criteria": [
            {"id": cid, "result": result, "reason": f"{cid} is {result}.", "code": code}
            for cid, result, code in (criteria or [("LOB", "met", "in_scope")])
        ],
        "authorization": None,
        "policy": {"id": "MP-RX-FP-120-24", "version": "test"},
        "received_at": received,
        "decided_at": decided,
        "decision_due_by": _ts(rec + timedelta(hours=hours)),
    }
    if decision == "approved":
        out["authorization"] = {
            "authorization_id": f"AUTH-{det_id}",
            "hcpcs": "J1323",
            "valid_from": "2026-12-01",
            "valid_through": "2027-05-31",
            "max_units": 100,
            "schedule": [],
        }
    if decided_by is not None:
        out["decided_by"] = decided_by
    if final is not None:
        out["final"] = final
    if supersedes is not None:
        out["supersedes"] = supersedes
    return out


ENGINE = {"kind": "engine"}
MD = {"kind": "reviewer", "reviewer_id": "REV-1", "credential": "MD"}
RN = {"kind": "reviewer", "reviewer_id": "REV-2", "credential": "RN"}
TOO_FEW = ("A.ii", "not_met", "too_few_prior_lines")
ECOG3 = ("A.iii", "not_met", "ecog_above_threshold")
NO_ECOG = ("A.iii", "missing", "ecog_missing")


def november() -> list[dict[str, Any]]:
    """R1-R9; R8 falls outside November in San Juan time. See test_report.py for the expected values."""
    r2_pend = det(
        "D2P",
        "R2",
        received="2026-11-03T00:00:00Z",
        decided="2026-11-03T00:00:01Z",
        decision="pended",
        pend_reason="clinical_review",
        criteria=[TOO_FEW, ("A.iii", "met", "ecog_met")],
        decided_by=ENGINE,
        final=False,
    )
    r3_pend = det(
        "D3P",
        "R3",
        received="2026-11-10T10:00:00Z",
        decided="2026-11-10T10:00:00Z",
        decision="pended",
        pend_reason="clinical_review",
        priority="expedited",
        lob="MMM_MULTIHEALTH",
        criteria=[("LOB", "met", "in_scope"), ECOG3],
    )
    r5_pend = det(
        "D5P",
        "R5",
        received="2026-11-25T12:00:00Z",
        decided="2026-11-25T12:00:00Z",
        decision="pended",
        pend_reason="clinical_review",
        priority="expedited",
        criteria=[TOO_FEW],
        decided_by=ENGINE,
        final=False,
    )
    r1 = det("D1", "R1", received="2026-11-02T12:00:00Z", decided="2026-11-02T14:00:00Z")
    return [
        r1,
        dict(r1),  # the same determination twice (a file concatenated twice): counted once
        r2_pend,
        det(
            "D2F",
            "R2",
            received="2026-11-03T00:00:00Z",
            decided="2026-11-04T00:00:00Z",
            criteria=[TOO_FEW, ("A.iii", "met", "ecog_met")],
            decided_by=MD,
            final=True,
            supersedes="D2P",
        ),
        r3_pend,
        det(
            "D3F",
            "R3",
            received="2026-11-10T10:00:00Z",
            decided="2026-11-11T16:00:00Z",
            decision="denied",
            priority="expedited",
            lob="MMM_MULTIHEALTH",
            criteria=[("LOB", "met", "in_scope"), ECOG3],
            decided_by=MD,
            final=True,
            supersedes="D3P",
        ),
        det(
            "D4P",
            "R4",
            received="2026-11-20T15:00:00Z",
            decided="2026-11-20T15:00:00Z",
            decision="pended",
            pend_reason="missing_information",
            criteria=[NO_ECOG],
        ),
        r5_pend,
        det(
            "D5I",
            "R5",
            received="2026-11-25T12:00:00Z",
            decided="2026-11-25T20:00:00Z",
            decision="pended",
            pend_reason="missing_information",
            priority="expedited",
            criteria=[TOO_FEW],
            decided_by=RN,
            final=False,
            supersedes="D5P",
        ),
        det(
            "D6",
            "R6",
            received="2026-11-05T13:00:00Z",
            decided="2026-11-05T14:30:00Z",
            priority="expedited",
            decided_by=ENGINE,
            final=True,
        ),
        # 23:59 on 30 November in San Juan: inside
        det("D7", "R7", received="2026-12-01T03:59:00Z", decided="2026-12-01T05:59:00Z"),
        # 23:59 on 31 October in San Juan: outside
        det("D8", "R8", received="2026-11-01T03:59:00Z", decided="2026-11-01T04:00:00Z"),
        # 00:00 on 1 November in San Juan: inside
        det("D9", "R9", received="2026-11-01T04:00:00Z", decided="2026-11-01T12:00:00Z"),
    ]


def as_models(items: list[dict[str, Any]]) -> list[PADetermination]:
    return [PADetermination.model_validate_json(json.dumps(i)) for i in items]


def as_jsonl(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)
