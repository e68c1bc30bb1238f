"""Generate the published contract files from the models.

``python -m contracts.export`` (or ``pa-worker contracts export``) rewrites
``contracts/schemas/``; ``--check`` exits 1 when the committed files differ from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts.channels import CE_SOURCE, CHANNELS, DLQ_ERROR_CLASSES, EVENT_CHANNELS, Channel
from contracts.models import SEMANTIC_RULES_KEYWORD, PARequest

SCHEMA_DIR = Path(__file__).parent / "schemas"

_CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 binary-mode headers carried by every event the worker emits.",
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Equals the event's determination_id or event_id."},
        "ce_source": {"type": "string", "description": CE_SOURCE},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "content-type": {"type": "string", "const": "application/json"},
    },
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
}

_DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Why the message was rejected and where it came from; the value is the original bytes.",
    "properties": {
        "pa_error_class": {
            "type": "string",
            "enum": list(DLQ_ERROR_CLASSES),
        },
        "pa_error_message": {"type": "string"},
        "pa_error_fields": {"type": "string", "description": "Comma-separated paths of the offending fields."},
        "pa_source_topic": {"type": "string"},
        "pa_source_partition": {"type": "string"},
        "pa_source_offset": {"type": "string"},
        "pa_source_timestamp_ms": {"type": "string"},
    },
    "required": ["pa_error_class", "pa_error_message", "pa_source_topic", "pa_source_partition", "pa_source_offset"],
}


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization" if model is not PARequest else "validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _semantic_summary(rules: list[dict[str, Any]]) -> str:
    if not rules:
        return f"The payload schema expresses every rule of this message ({SEMANTIC_RULES_KEYWORD} is empty)."
    named = "; ".join(f"{r['id']} ({', '.join(r['fields']) or 'the whole message'})" for r in rules)
    return (
        f"Rules the payload schema cannot express, listed with the reason under {SEMANTIC_RULES_KEYWORD} "
        f"here and in the schema: {named}."
    )


def _dead_letter_message(channel: Channel) -> str:
    """``paRequestsDeadLetter`` for ``paRequestsDlq`` (the name v1 published), and so on."""
    return f"{channel.dead_letter_of}DeadLetter"


def _operation(channel: Channel) -> str:
    return f"{channel.action}{channel.id[0].upper()}{channel.id[1:]}"


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI document of the public channels of ``contracts.channels``."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in EVENT_CHANNELS:
        model = channel.model
        assert model is not None
        msg = f"{channel.id}Message"
        rules = schema_of(model)[SEMANTIC_RULES_KEYWORD]
        messages[msg] = {
            "name": model.model_config.get("title"),
            "description": _semantic_summary(rules),
            "contentType": "application/json",
            "payload": {"$ref": f"./{model.model_config.get('title')}.v1.json"},
            # CloudEvents headers on what the worker emits; the input channels carry none required
            "headers": _CE_HEADERS if channel.action == "send" else {"type": "object"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "member_id"}}},
            "x-cloudevents-type": channel.ce_type,
            SEMANTIC_RULES_KEYWORD: rules,
        }
    for channel in CHANNELS:
        if channel.dead_letter_of is not None:
            source = next(c for c in CHANNELS if c.id == channel.dead_letter_of)
            messages[_dead_letter_message(channel)] = {
                "name": f"{source.model.model_config.get('title') if source.model else source.id}.rejected",
                "contentType": "application/octet-stream",
                "payload": {"type": "string", "description": "The original message bytes, unchanged."},
                "headers": _DLQ_HEADERS,
                "bindings": {"kafka": {"key": {"type": "string", "description": "The original key, unchanged."}}},
            }
    for channel in CHANNELS:
        if not channel.public:
            continue
        msg = _dead_letter_message(channel) if channel.dead_letter_of else f"{channel.id}Message"
        channels[channel.id] = {
            "address": channel.topic,
            "description": channel.description,
            "messages": {msg: {"$ref": f"#/components/messages/{msg}"}},
        }
        if channel.action is not None:
            operations[_operation(channel)] = {
                "action": channel.action,
                "channel": {"$ref": f"#/channels/{channel.id}"},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Prior-authorization events (Elrexfio, MP-RX-FP-120-24)",
            "version": "1.0.0",
            "description": "Contract v1 between intake, the PA worker, letters and claims. "
            "Field names are fixed; new optional fields may be added; anything else needs v2.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make kafka-up"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def generate() -> dict[str, str]:
    """File name -> content of every generated contract file."""
    files = {
        f"{model.model_config.get('title')}.v1.json": schema_of(model)
        for model in (c.model for c in EVENT_CHANNELS)
        if model is not None
    }
    files["asyncapi.json"] = asyncapi()
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in files.items()}


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of generated files that are missing or differ on disk."""
    return [
        name
        for name, content in generate().items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != content
    ]


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in generate().items():
        (directory / name).write_text(content, encoding="utf-8")
    return sorted(generate())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        stale = drift()
        if stale:
            stale_list = ", ".join(stale)
            print(f"contracts: generated files out of date: {stale_list}; run `make contracts`", file=sys.stderr)
            return 1
        print("contracts: schemas and AsyncAPI match the models")
        return 0
    for name in write():
        print(f"wrote contracts/schemas/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
