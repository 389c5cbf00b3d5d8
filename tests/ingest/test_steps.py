"""The pure steps, one by one: parse, keep, enrich, standardize."""

from __future__ import annotations

import json

import pytest

from feast_pinot.actions import Action
from stream_ingest.config import IngestConfig, parse_config
from stream_ingest.records import DeadLetter, EnrichedEvent, KeptEvent, ParsedEvent, RawEvent, Skipped
from stream_ingest.steps import BadKey, LookupUse, enrich, keep, lookup_keys, parse, standardize
from tests.ingest.support import application, example_config_dict, interaction
from tests.ingest.test_config import LOG

NOW = 1_800_000_000_000
EMB = [0.5] * 64


@pytest.fixture(scope="module")
def config() -> IngestConfig:
    return parse_config(example_config_dict())


def raw(value: bytes | None, topic: str = "job-applications", offset: int = 7) -> RawEvent:
    return RawEvent(topic, 3, offset, b"k", value, NOW - 5)


def uses(config: IngestConfig) -> tuple[LookupUse, ...]:
    return tuple(LookupUse(n, lk, True) for n, lk in config.ingest_lookups().items())


def through_keep(config: IngestConfig, event: RawEvent) -> KeptEvent:
    parsed = parse(event, config.shapes)
    assert isinstance(parsed, ParsedEvent)
    kept = keep(parsed)
    assert isinstance(kept, KeptEvent)
    return kept


def run_all(config: IngestConfig, event: RawEvent, found: dict | None = None) -> Action | DeadLetter | Skipped:
    parsed = parse(event, config.shapes)
    if not isinstance(parsed, ParsedEvent):
        return parsed
    kept = keep(parsed)
    if not isinstance(kept, KeptEvent):
        return kept
    found = found if found is not None else {"job_embedding": {222: EMB}, "job_geo": {}}
    enriched = enrich(kept, uses(config), lookup_keys(parsed, uses(config)), found)
    if not isinstance(enriched, EnrichedEvent):
        return enriched
    return standardize(enriched, LOG, NOW)


def test_application_becomes_a_standard_action(config: IngestConfig) -> None:
    event = raw(application("ap-1", 17, 222, NOW - 1000, device="android"))
    action = run_all(config, event, {"job_embedding": {222: EMB}, "job_geo": {222: "eu"}})
    assert action == Action(
        action_id="ap-1", actor=17, verb="job-apply", object="job:222", ts_ms=NOW - 1000,
        embedding=tuple(EMB),
        attributes=json.dumps({"objectAttributes": {"geo": "eu"}, "verbAttributes": {"device": "android"}},
                              sort_keys=True, separators=(",", ":")),
    )


def test_interaction_maps_its_type_and_parses_iso_time(config: IngestConfig) -> None:
    event = raw(interaction(17, 222, "dismiss", NOW - 1234), topic="job-interactions", offset=42)
    action = run_all(config, event)
    assert isinstance(action, Action)
    assert (action.verb, action.ts_ms, action.object) == ("job-dismiss", NOW - 1234, "job:222")
    assert action.action_id == "job-interactions/3/42"  # no producer id: derived from the origin


def test_ignored_type_is_skipped_not_dead_lettered(config: IngestConfig) -> None:
    result = run_all(config, raw(interaction(17, 222, "impression", NOW), topic="job-interactions"))
    assert isinstance(result, Skipped)
    assert result == Skipped(result.event, "keep", "type='impression' is not of interest")


@pytest.mark.parametrize(
    ("value", "topic", "step", "reason"),
    [
        (None, "job-applications", "parse", "empty message (no value)"),
        (b'{"event": "job_application", ', "job-applications", "parse", "not valid JSON: "),
        (b"\xff\xfe", "job-applications", "parse", "not valid JSON: "),
        (b"[1, 2]", "job-applications", "parse", "expected a JSON object, got list"),
        (b'{"event": "page_view"}', "job-applications", "parse",
         "matches no event shape (tried job_application, job_interaction)"),
        # the right event on the wrong topic is not recognised either
        (interaction(1, 222, "view", NOW), "job-applications", "parse", "matches no event shape"),
        (interaction(1, 222, "share", NOW), "job-interactions", "keep",
         "unknown verb: type='share' is neither mapped nor ignored (shape job_interaction maps "
         "['dismiss', 'save', 'view'])"),
        (json.dumps({"event": "job_interaction", "member": {"id": 1}, "job": {"id": 222}}).encode(),
         "job-interactions", "keep", "missing field 'type' (verb)"),
        (json.dumps({"event": "job_application", "application_id": "a", "job_id": 222,
                     "applied_at": NOW}).encode(), "job-applications", "standardize",
         "missing field 'member_id' (actor)"),
        (json.dumps({"event": "job_application", "member_id": 1, "job_id": 222,
                     "applied_at": NOW}).encode(), "job-applications", "standardize",
         "missing field 'application_id' (action_id)"),
        (application("a", 1, 222, NOW - 97 * 3_600_000), "job-applications", "standardize",
         "is outside the 96 h retention"),
        (application("a", 1, 222, NOW + 3_600_000), "job-applications", "standardize", "min in the future"),
        (application("a", "1", 222, NOW), "job-applications", "standardize",  # type: ignore[arg-type]
         "'actor' must be an integer member_id, got '1'"),
        (application("a", 1, 222, float(NOW)), "job-applications", "standardize",  # type: ignore[arg-type]
         "'applied_at' must be integer epoch ms"),
        (interaction(1, 222, "view", NOW).replace(b"+00:00", b""), "job-interactions", "standardize",
         "'occurred_at' must be an ISO-8601 time with a time zone"),
        (application("a", 1, 999, NOW), "job-applications", "enrich",
         "job_attributes:embedding has no value for key 999"),
        (application("a", 1, "x1", NOW), "job-applications", "enrich",  # type: ignore[arg-type]
         "object 'job:x1' does not give an int64 key (lookups.job_embedding)"),
        (application("a", 1, 2**63, NOW), "job-applications", "enrich",
         f"object 'job:{2**63}' does not give an int64 key (lookups.job_embedding)"),
        (application("a", 1, "\u0661\u0662", NOW), "job-applications", "enrich",  # type: ignore[arg-type]
         "object 'job:\u0661\u0662' does not give an int64 key (lookups.job_embedding)"),
        (application("a", 1, "9" * 5000, NOW), "job-applications", "enrich",  # type: ignore[arg-type]
         "does not give an int64 key (lookups.job_embedding)"),
    ],
)
def test_bad_events_become_dead_letters_with_step_and_reason(
    config: IngestConfig, value: bytes | None, topic: str, step: str, reason: str
) -> None:
    event = raw(value, topic=topic)
    result = run_all(config, event)
    assert isinstance(result, DeadLetter)
    assert (result.event, result.step) == (event, step)
    assert reason in result.reason


def test_wrong_embedding_dimension_is_dead_lettered(config: IngestConfig) -> None:
    lookups = {"job_embedding": {222: [0.1, 0.2, 0.3]}, "job_geo": {}}
    result = run_all(config, raw(application("a", 1, 222, NOW)), lookups)
    assert isinstance(result, DeadLetter)
    assert (result.step, result.reason) == ("standardize", "embedding must have 64 floats, got 3")


def test_optional_lookup_without_value_leaves_the_attribute_out(config: IngestConfig) -> None:
    kept = through_keep(config, raw(application("a", 1, 222, NOW)))
    keys = lookup_keys(kept.parsed, uses(config))
    assert keys == (222, 222)
    enriched = enrich(kept, uses(config), keys, {"job_embedding": {222: EMB}, "job_geo": {}})
    assert enriched == EnrichedEvent(kept, {"objectAttributes.embedding": EMB})
    # an optional lookup without a valid key is left out too
    no_key = enrich(kept, uses(config), (222, BadKey("no key")), {"job_embedding": {222: EMB}, "job_geo": {}})
    assert no_key == EnrichedEvent(kept, {"objectAttributes.embedding": EMB})


def test_lookup_keys_strip_the_prefix_and_type_the_key(config: IngestConfig) -> None:
    kept = through_keep(config, raw(application("a", 1, 222, NOW)))
    lookup = config.lookups["job_embedding"]
    by_actor = lookup.model_copy(update={"key": "actor", "key_prefix": ""})
    wrong_prefix = lookup.model_copy(update={"key_prefix": "post:"})
    assert lookup_keys(
        kept.parsed,
        (
            LookupUse("int", lookup, key_is_int=True),
            LookupUse("str", lookup, key_is_int=False),
            LookupUse("by_actor", by_actor, key_is_int=True),
            LookupUse("wrong_prefix", wrong_prefix, key_is_int=True),
        ),
    ) == (222, "222", 1, BadKey("object 'job:222' does not start with 'post:' (lookups.wrong_prefix)"))


def test_epoch_seconds(config: IngestConfig) -> None:
    raw_config = example_config_dict()
    raw_config["shapes"]["job_application"]["timestamp"]["unit"] = "s"
    seconds = parse_config(raw_config)
    action = run_all(seconds, raw(application("a", 1, 222, (NOW - 1500) / 1000)))  # type: ignore[arg-type]
    assert isinstance(action, Action) and action.ts_ms == NOW - 1500


def test_shape_match_compares_types_too() -> None:
    raw_config = example_config_dict()
    raw_config["shapes"]["job_application"]["when"] = {"field": "v1", "equals": True}
    shapes = parse_config(raw_config).shapes
    assert isinstance(parse(raw(b'{"v1": 1}'), shapes), DeadLetter)  # 1 == True in Python, not in JSON
    parsed = parse(raw(b'{"v1": true}'), shapes)
    assert isinstance(parsed, ParsedEvent) and parsed.shape_name == "job_application"
