"""Policy MP-RX-FP-120-24 (elranatamab-bcmm, Elrexfio, HCPCS J1323) as a pure function.

No I/O, no clock, no logging: ``evaluate(request, now, settings)`` maps a validated ``pa.request``
and the evaluation time to a ``pa.determination``; :mod:`policy.reauth` computes reauthorization
reminders. Every parameter lives in :class:`PolicySettings` (:mod:`policy.settings`).

Modules: :mod:`~policy.criteria` (the criteria as data, with the policy's words and the checks),
:mod:`~policy.schedule` and :mod:`~policy.label` (the labeled dosing schedule, the QL arithmetic),
:mod:`~policy.agents` (the A.ii drug classes), :mod:`~policy.evidence` (currency windows),
:mod:`~policy.ids` (deterministic ids), :mod:`~policy.engine` (the decision).

Choices made where the policy and the contract leave room
----------------------------------------------------------
* Currency: evidence dated ``age = receipt date (UTC) - evidence date`` days before receipt is
  current when ``0 <= age <= window`` (exactly N days is current, N + 1 is stale); dated after
  receipt is future-dated. Stale and future-dated evidence are ``missing``, never ``not_met``
  (a stale ECOG of 3 is missing too: it is not current evidence of anything).
* A.i: an empty code list, or a myeloma code without a disease status, is ``missing``; only
  non-C90.00-C90.02 codes (C90.03, C91.00, the category C90.0), newly diagnosed or in remission
  are ``not_met``. C90.01 (in remission) with a relapsed status is accepted: the policy lists it.
* A.ii: lines are distinct ``line`` numbers (two entries with one number are one line); an empty
  list is ``missing``, documented but insufficient lines ``not_met``. Unknown agents count toward
  lines, not toward a class; abbreviations (VRd) are not guessed.
* A.docs: chart notes, lab results, pathology report, imaging or oncology note dated within
  ``supporting_docs_window_days`` (90); a document of type ``other`` alone does not count.
* B.docs.B: imaging or lab results (the policy's "other objective measures"); pathology does not.
* B.i: stable disease is not progression; the label sets no maximum duration of therapy.
* QL: initial requests assume the labeled schedule as printed (weekly to week 24, then every 2
  weeks). Continuations follow the responder schedule (every 2 weeks from week 25, every 4 from
  week 49) when the best response is PR or better since a ``response_since`` at least 2 months
  before ``valid_from``; otherwise weekly (so a missing ``response_since`` gives the larger
  quantity). Step-ups are billed as whole 44 mg vials (setting). A therapy start inside the period
  repeats the step-up; a period with no labeled dose is ``not_met``. The authorization carries
  ``requested_units`` when given (and within the maximum), else the maximum; ``schedule`` lists
  every labeled dose in the period.
* Period: ``valid_from`` = requested start or the UTC date of ``now``; ``valid_through`` =
  ``valid_from`` + 6 months - 1 day, the day clamped to the month's end (Aug 31 -> Feb 27).
* Decision: ``not_met`` -> pended / clinical_review (``denied`` only with
  ``allow_automated_denials``); only ``missing`` -> pended / missing_information, even with
  denials on.
* Ids: ``DET-<version>-<fingerprint8>-<sha256 of fingerprint + canonical request JSON>``, never
  dependent on ``now``; authorization and reminder ids are hashes of the id before them.
* Hot path: outbound models are built without re-validation (:mod:`policy._build`), criterion
  results that depend on a few inputs are memoized and shared (bounded tables), schedules are
  cached per period. The tests validate every output strictly and compare cold and warm runs.
"""

from policy.engine import evaluate
from policy.reauth import build_reauth_due, reauth_due_on
from policy.settings import DEFAULT_SETTINGS, POLICY_ID, PolicySettings

__all__ = [
    "DEFAULT_SETTINGS",
    "POLICY_ID",
    "PolicySettings",
    "build_reauth_due",
    "evaluate",
    "reauth_due_on",
]
