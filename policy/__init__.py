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
Every one is a row of ``policy/INTERPRETATION.md`` (R1-R28): the policy's words, the rule, why,
the setting and the tests that pin it; ``tests/policy/GOLDEN.md`` lists the golden clinical cases.
In short: local dates in America/Puerto_Rico; a requested period that starts before receipt, too
far ahead, or ends before the decision is pended; a continuation that has not started, or whose
response predates it, is pended; a continuation does not re-test disease status; C90.0 is myeloma;
the requested drug is not a prior line; Spanish names and regimen abbreviations are read, and names
that are not are named; the quantity limit covers weekly dosing until a response is documented,
every 4 weeks 24 weeks after every 2 weeks began, and 3 days of dose-date drift.

* Hot path: outbound models are built without re-validation (:mod:`contracts._build`), criterion
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
