"""The registry of channels (``contracts.channels``) is the one definition the rest reads."""

from __future__ import annotations

import json

from contracts import channels as ch
from contracts.export import generate, schema_of
from contracts.models import SEMANTIC_RULES_KEYWORD
from worker.config import ENV_NAMES, Settings, as_env


def test_every_topic_setting_defaults_to_its_channel() -> None:
    settings = Settings()
    topic_settings = {name for name in Settings.model_fields if name.startswith("topic_")}
    topic_settings -= {"topic_partitions", "topic_replication_factor"}
    named = {c.setting for c in ch.CHANNELS if c.setting is not None}
    assert topic_settings == named
    for name in named:
        assert getattr(settings, name) == ch.by_setting(name).topic


def test_channel_ids_and_topics_are_distinct() -> None:
    assert len({c.id for c in ch.CHANNELS}) == len({c.topic for c in ch.CHANNELS}) == len(ch.CHANNELS)


def test_asyncapi_is_the_public_registry() -> None:
    doc = json.loads(generate()["asyncapi.json"])
    assert {k: v["address"] for k, v in doc["channels"].items()} == {c.id: c.topic for c in ch.CHANNELS if c.public}
    types = {m.get("x-cloudevents-type") for m in doc["components"]["messages"].values()} - {None}
    assert types == {c.ce_type for c in ch.EVENT_CHANNELS}
    dlq = doc["components"]["messages"]["paRequestsDeadLetter"]["headers"]["properties"]["pa_error_class"]
    assert tuple(dlq["enum"]) == ch.DLQ_ERROR_CLASSES


def test_semantic_rules_name_registered_dlq_classes() -> None:
    for channel in ch.EVENT_CHANNELS:
        assert channel.model is not None
        for rule in schema_of(channel.model)[SEMANTIC_RULES_KEYWORD]:
            assert rule["dlq_error_class"] in ch.DLQ_ERROR_CLASSES, (channel.topic, rule["id"])


def test_environment_round_trip() -> None:
    settings = Settings(topic_requests="pa.requests.x", batch_max_records=7, scheduler_enabled=False)
    env = as_env(settings)
    assert set(env) <= set(ENV_NAMES.values())
    assert Settings(**{name: env[var] for name, var in ENV_NAMES.items() if var in env}) == settings
