"""Reauthorization reminders (``pa.reauth_due``). Pure: the scheduler that emits them is in ``worker``.

A reminder falls due ``lead_days`` before the authorization's ``valid_through``, or at once (on
the approval date) when the approval is already inside that window.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

from contracts import PAReauthDue, RequiredDocument
from contracts.models import DocumentType
from policy.engine import policy_ref
from policy.ids import reauth_event_id
from policy.settings import POLICY_ID, PolicySettings

REQUIRED_DOCUMENTS: Final[tuple[DocumentType, ...]] = ("oncology_note", "imaging")
"""What a continuation request must carry (section B.i, items A and B); lab results are accepted in
place of imaging as "other objective measures" (see ``required_documents_detail``)."""


def reauth_due_on(valid_through: date, approved_on: date, lead_days: int) -> date:
    """``max(valid_through - lead_days, approved_on)``: at once if the approval is already inside
    the window."""
    try:
        due = valid_through - timedelta(days=lead_days)
    except OverflowError:
        due = date.min
    return max(due, approved_on)


def required_documents_detail(settings: PolicySettings) -> list[RequiredDocument]:
    """Per continuation criterion, the accepted document types and a sentence for the letter."""
    return [
        RequiredDocument(
            criterion="B.docs.A",
            accepted_types=["oncology_note"],
            description=(
                f"Criterion B.docs.A (section B.i, item A, of policy {POLICY_ID}): a current oncology note, "
                f"dated within {settings.oncology_note_window_days} days before the continuation request is "
                "received, documenting the patient's response to treatment and showing no progression of disease."
            ),
        ),
        RequiredDocument(
            criterion="B.docs.B",
            accepted_types=["imaging", "lab_results"],
            description=(
                f"Criterion B.docs.B (section B.i, item B, of policy {POLICY_ID}): current imaging studies and "
                "other objective measures, as appropriate (imaging or lab results dated within "
                f"{settings.objective_measures_window_days} days before the continuation request is received), "
                "showing no progression of disease when compared with previous results."
            ),
        ),
    ]


def build_reauth_due(
    *,
    authorization_id: str,
    member_id: str,
    prescriber_npi: str,
    valid_through: date,
    reauth_due_on: date,
    determination_id: str | None,
    settings: PolicySettings,
) -> PAReauthDue:
    """The ``pa.reauth_due`` event of one authorization (validated: it is not on the hot path).

    ``event_id`` depends on ``authorization_id`` only, so a reminder re-emitted after a restart
    carries the same id and consumers can drop the duplicate."""
    return PAReauthDue(
        event_id=reauth_event_id(authorization_id),
        authorization_id=authorization_id,
        member_id=member_id,
        prescriber_npi=prescriber_npi,
        valid_through=valid_through,
        reauth_due_on=reauth_due_on,
        required_documents=list(REQUIRED_DOCUMENTS),
        required_documents_detail=required_documents_detail(settings),
        policy=policy_ref(settings),
        determination_id=determination_id,
    )
