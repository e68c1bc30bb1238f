"""Hand-built determinations and notices for the report tests: twelve requests whose answers are
worked out by hand in tests/worker/test_report.py (the plan's time zone is UTC-4 all year)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from contracts.models import DeniedPortion, PADetermination, PANotice

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
    adverse: bool | None = None,
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
    if adverse is not None:
        out["adverse"] = adverse
        out["appeal_rights"] = adverse
    if adverse and decision == "approved":
        out["authorization"]["max_units"] = 988
        portion = {
            "requested_units": 1988,
            "granted_units": 988,
            "denied_units": 1000,
            "requested_valid_from": "2026-12-01",
            "requested_valid_through": "2027-05-31",
            "granted_valid_from": "2026-12-01",
            "granted_valid_through": "2027-02-28",
            "denied_days": 92,
            "summary": "Approved 988 of the 1,988 units asked, through 28 February 2027.",
            "summary_es": "Se aprobaron 988 de las 1,988 unidades pedidas, hasta el 28 de febrero de 2027.",
        }
        # only the fields the contract has (it grows additively)
        out["denied_portion"] = {k: v for k, v in portion.items() if k in DeniedPortion.model_fields}
    return out


def notice(
    notice_id: str,
    det_id: str,
    request_id: str,
    *,
    sent: str,
    kind: str = "approval",
    channel: str = "mail",
    recipient: str = "member",
) -> dict[str, Any]:
    """One pa.notice as JSON-ready data."""
    return {
        "schema_version": "1",
        "notice_id": notice_id,
        "determination_id": det_id,
        "request_id": request_id,
        "member_id": MEMBER_ID,
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "sent_at": sent,
    }


ENGINE = {"kind": "engine"}
MD = {"kind": "reviewer", "reviewer_id": "REV-1", "credential": "MD"}
RN = {"kind": "reviewer", "reviewer_id": "REV-2", "credential": "RN"}
TOO_FEW = ("A.ii", "not_met", "too_few_prior_lines")
ECOG3 = ("A.iii", "not_met", "ecog_above_threshold")
NO_ECOG = ("A.iii", "missing", "ecog_missing")
QL_ABOVE = ("QL", "not_met", "quantity_above_maximum")


def november() -> list[dict[str, Any]]:
    """R1-R12 (18 records); R8 falls outside November in San Juan time, R10 is on a commercial line.
    See test_report.py for the expected values."""
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
            adverse=False,
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
            adverse=True,
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
            adverse=False,
        ),
        # received 23:59 on 30 November in San Juan: inside; decided 01:59 on 1 December, after the as-of time
        det("D7", "R7", received="2026-12-01T03:59:00Z", decided="2026-12-01T05:59:00Z"),
        # 23:59 on 31 October in San Juan: outside
        det("D8", "R8", received="2026-11-01T03:59:00Z", decided="2026-11-01T04:00:00Z"),
        # 00:00 on 1 November in San Juan: inside
        det("D9", "R9", received="2026-11-01T04:00:00Z", decided="2026-11-01T12:00:00Z"),
        # a commercial line, denied by the engine (automated denials allowed there): excluded, no banner
        det(
            "D10",
            "R10",
            received="2026-11-12T12:00:00Z",
            decided="2026-11-12T12:30:00Z",
            decision="denied",
            lob="COMMERCIAL",
            criteria=[TOO_FEW],
            decided_by=ENGINE,
            final=True,
            adverse=True,
        ),
        det(
            "D11P",
            "R11",
            received="2026-11-15T12:00:00Z",
            decided="2026-11-15T12:00:00Z",
            decision="pended",
            pend_reason="clinical_review",
            criteria=[QL_ABOVE],
            decided_by=ENGINE,
            final=False,
        ),
        # a partial approval: 988 of 1,988 units, 24 h after receipt
        det(
            "D11F",
            "R11",
            received="2026-11-15T12:00:00Z",
            decided="2026-11-16T12:00:00Z",
            criteria=[QL_ABOVE],
            decided_by=MD,
            final=True,
            supersedes="D11P",
            adverse=True,
        ),
        det(
            "D12P",
            "R12",
            received="2026-11-18T12:00:00Z",
            decided="2026-11-18T12:00:00Z",
            decision="pended",
            pend_reason="clinical_review",
            priority="expedited",
            criteria=[TOO_FEW],
            decided_by=ENGINE,
            final=False,
        ),
        # denied 10 h after receipt (clock 24 h), the member told by phone 26 h after receipt
        det(
            "D12F",
            "R12",
            received="2026-11-18T12:00:00Z",
            decided="2026-11-18T22:00:00Z",
            decision="denied",
            priority="expedited",
            criteria=[TOO_FEW],
            decided_by=MD,
            final=True,
            supersedes="D12P",
            adverse=True,
        ),
    ]


def november_notices() -> list[dict[str, Any]]:
    """The letter system's notices for november() (11 records, one sent twice). See test_report.py."""
    n11 = notice("N11M", "D11F", "R11", sent="2026-11-17T12:00:00Z", kind="partial_approval")
    return [
        notice("N2", "D2F", "R2", sent="2026-11-04T02:00:00Z"),  # 26 h after receipt (72 h clock)
        notice("N3", "D3F", "R3", sent="2026-11-11T18:00:00Z", kind="denial"),  # 32 h (24 h clock): late
        # the RN's information request, a pend: not a final decision
        notice("N5", "D5I", "R5", sent="2026-11-25T21:00:00Z", kind="information_request", recipient="prescriber"),
        notice("N6A", "D6", "R6", sent="2026-11-05T15:00:00Z", channel="portal"),  # 2 h: the first
        notice("N6B", "D6", "R6", sent="2026-11-07T12:00:00Z"),  # a later copy by mail
        notice("N7", "D7", "R7", sent="2026-12-01T07:00:00Z"),  # after the as-of time
        notice("N10", "D10", "R10", sent="2026-11-13T12:00:00Z", kind="denial"),  # an excluded line
        n11,  # 48 h (72 h clock)
        dict(n11),  # the same notice again
        notice(
            "N11P",
            "D11F",
            "R11",
            sent="2026-11-16T13:00:00Z",
            kind="partial_approval",
            channel="fax",
            recipient="prescriber",
        ),
        notice("N12", "D12F", "R12", sent="2026-11-19T14:00:00Z", kind="denial", channel="phone"),  # 26 h: late
    ]


def as_models(items: list[dict[str, Any]]) -> list[PADetermination]:
    return [PADetermination.model_validate_json(json.dumps(i)) for i in items]


def as_jsonl(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)


def as_notices(items: list[dict[str, Any]]) -> list[PANotice]:
    return [PANotice.model_validate_json(json.dumps(i)) for i in items]
