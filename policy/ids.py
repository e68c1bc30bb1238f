"""Deterministic identifiers: the same input always gives the same id, on any machine.

* ``determination_id`` = ``DET-<version>-<settings fingerprint[:8]>-<sha256[:32]>`` where the
  sha256 covers the settings fingerprint and the request's canonical JSON (pydantic's serialization
  of the validated request: field order fixed by the model, unknown input fields dropped, key order
  and whitespace of the input irrelevant). It never depends on the evaluation time, so re-evaluating
  a request (a redelivery, a replay) yields the same id; any change of any request field, or of any
  setting, yields another.
* ``authorization_id`` = ``PA-J1323-<sha256(determination_id)[:20], upper case>``.
* reauthorization ``event_id`` = ``RD-<sha256(authorization_id)[:32]>``: one reminder per authorization.

Hashes carry no readable patient data; 128 bits (32 hex) make collisions negligible.
"""

from __future__ import annotations

import hashlib
from typing import Final

from contracts import PARequest
from policy.settings import PolicySettings

_SERIALIZER: Final = PARequest.__pydantic_serializer__


def canonical_request(request: PARequest) -> bytes:
    """The request's canonical JSON bytes."""
    return _SERIALIZER.to_json(request)


def determination_id(request: PARequest, settings: PolicySettings) -> str:
    digest = hashlib.sha256(settings.fingerprint.encode() + b"\n" + canonical_request(request)).hexdigest()
    return f"DET-{settings.version}-{settings.fingerprint[:8]}-{digest[:32]}"


def authorization_id(determination_id: str, hcpcs: str = "J1323") -> str:
    return f"PA-{hcpcs}-" + hashlib.sha256(determination_id.encode()).hexdigest()[:20].upper()


def reauth_event_id(authorization_id: str) -> str:
    return "RD-" + hashlib.sha256(b"reauth_due\n" + authorization_id.encode()).hexdigest()[:32]
