"""Config validation: at load, and against the Feast repo; errors name the key."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from feast_pinot.specs import ActionLogSpec, AttributeJoinSpec, HistorySpec
from stream_ingest.config import IngestConfig, check_against_repo, load_config, parse_config
from stream_ingest.errors import ConfigError
from tests.ingest.support import EXAMPLE_CONFIG, example_config_dict

LOG = ActionLogSpec(
    name="member_actions", actor_join_key="member_id", actor_is_int=True,
    verbs=("job-apply", "job-save", "job-dismiss", "job-view"), retention_ms=96 * 3_600_000,
    max_actions=200, embedding_dim=64, future_tolerance_ms=300_000, path="data/member_actions",
)
LIGHT = LOG.model_copy(update={"name": "member_actions_light", "embedding_dim": 0})


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "ingest.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_example_config_loads_and_resolves_the_repo_next_to_it() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert config.feast.repo_path == EXAMPLE_CONFIG.parent
    assert list(config.shapes) == ["job_application", "job_interaction"]
    assert set(config.ingest_lookups()) == {"job_embedding", "job_geo"}
    check_against_repo(config, LOG, [])  # consistent with the example repo's log


def test_bootstrap_override(tmp_path: Path) -> None:
    assert load_config(EXAMPLE_CONFIG, "10.0.0.1:9093").kafka.bootstrap_servers == "10.0.0.1:9093"


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda raw: raw["kafka"].update(group="x"), "kafka.group"),
        (lambda raw: raw["shapes"]["job_interaction"].update(colour="red"), "shapes.job_interaction.colour"),
        (lambda raw: raw["batch"].update(max_events=0), "batch.max_events"),
        (lambda raw: raw["lookups"]["job_embedding"].update(into="embedding"), "lookups.job_embedding.into"),
        (lambda raw: raw["shapes"]["job_application"]["timestamp"].update(unit="days"),
         "shapes.job_application.timestamp.unit"),
        (lambda raw: raw["kafka"].update(heartbeat_interval_ms=7000), "heartbeat_interval_ms (7000) must be below"),
        (lambda raw: raw["shapes"]["job_application"].update(topics=["elsewhere"]),
         "shapes.job_application.topics: ['elsewhere'] are not in kafka.topics"),
        (lambda raw: raw["dead_letter"].update(topic="job-applications"), "dead_letter.topic must not be"),
        (lambda raw: raw["shapes"]["job_interaction"]["verb"].update(ignore=["view"]),
         "values both mapped and ignored: ['view']"),
        (lambda raw: raw["lookups"]["job_geo"].update(into="objectAttributes.embedding"),
         "lookups.job_geo.into: objectAttributes.embedding is also filled by lookups.job_embedding"),
        (lambda raw: raw.pop("dead_letter"), "dead_letter: Field required"),
    ],
)
def test_invalid_configs_fail_at_load_naming_the_key(tmp_path: Path, edit: Any, named: str) -> None:
    raw = example_config_dict()
    edit(raw)
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, raw))
    assert named in str(caught.value)
    assert str(tmp_path / "ingest.yaml") in str(caught.value)


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kafka: [unclosed")
    with pytest.raises(ConfigError, match="cannot read .*broken.yaml"):
        load_config(path)


def test_verbs_must_be_declared_by_the_log() -> None:
    raw = example_config_dict()
    raw["shapes"]["job_interaction"]["verb"]["map"]["save"] = "job-bookmark"
    with pytest.raises(ConfigError, match=r"shapes\.job_interaction\.verb\.map\.save: 'job-bookmark' is not a verb"):
        check_against_repo(parse_config(raw), LOG, [])


def test_a_log_with_embeddings_needs_an_embedding_lookup() -> None:
    raw = example_config_dict()
    del raw["lookups"]["job_embedding"]
    with pytest.raises(ConfigError, match="needs objectAttributes.embedding"):
        check_against_repo(parse_config(raw), LOG, [])


def test_a_log_without_embeddings_refuses_an_ingest_time_embedding() -> None:
    with pytest.raises(ConfigError, match="lookups.job_embedding: action log 'member_actions_light' stores no"):
        check_against_repo(parse_config(example_config_dict()), LIGHT, [])


def test_read_time_lookup_must_match_a_history_join() -> None:
    raw = example_config_dict()
    raw["feast"]["action_log"] = "member_actions_light"
    raw["lookups"]["job_embedding"]["join"] = "read_time"
    config = parse_config(raw)
    with pytest.raises(ConfigError, match="lookups.job_embedding.join: read_time, but no history"):
        check_against_repo(config, LIGHT, [])
    joined = HistorySpec(
        name="member_recent_actions_joined", log=LIGHT, max_actions=200, embedding_dim=64,
        attribute=AttributeJoinSpec(feature_view="job_attributes", feature="embedding", join_key="job_id",
                                    key_is_int=True, object_prefix="job:", path="data/job_attributes.parquet",
                                    timestamp_field="event_timestamp"),
    )
    check_against_repo(config, LIGHT, [joined])
    assert set(config.ingest_lookups()) == {"job_geo"}  # the ingester does not look it up


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (``X | None``, ``A | B``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        nested = _models(field.annotation)
        if nested and typing.get_origin(field.annotation) is not dict:
            out += [leaf for m in nested for leaf in _leaves(m, f"{prefix}{name}.")]
        else:
            out.append(prefix + name)
    return out


def test_docs_describe_every_config_key() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ingest.md").read_text()
    for section, field in IngestConfig.model_fields.items():
        heading = f"### `{section}`" if typing.get_origin(field.annotation) is not dict else f"### `{section}.<name>`"
        assert heading in doc, heading
        text = doc.split(heading, 1)[1].split("\n### ", 1)[0]
        for leaf in _leaves(_models(field.annotation)[0]):
            assert f"`{leaf}`" in text, f"{section}.{leaf} is not in docs/ingest.md"


def _run_cli(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream_ingest", "--config", str(config)],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize(("break_it", "named"), [
    (lambda raw, repo: raw["feast"].update(repo_path=str(repo / "nowhere")),
     "feast.repo_path: no feature_store.yaml in"),
    (lambda raw, repo: (repo / "feature_store.yaml").unlink(), "feast.repo_path: no feature_store.yaml in"),
    (lambda raw, repo: (repo / "feature_store.yaml").write_text("project: [unclosed"),
     "feast.repo_path: the Feast repo"),
    (lambda raw, repo: (repo / "feature_store.yaml").write_text((repo / "feature_store.yaml").read_text().replace(
        "feast_pinot.online.embedded.EmbeddedOnlineStore", "feast_pinot.online.nowhere.Store")),
     "feast.repo_path: the Feast repo"),
    (lambda raw, repo: raw["kafka"].update(properties={"no.such.property": "x"}),
     'kafka.properties: librdkafka refused the settings: No such configuration property: "no.such.property"'),
    (lambda raw, repo: raw["kafka"].update(properties={"socket.timeout.ms": "soon"}),
     "kafka.properties: librdkafka refused the settings"),
], ids=["no repo folder", "no feature_store.yaml", "feature_store.yaml not YAML", "unknown online store class",
        "unknown librdkafka property", "bad librdkafka value"])
def test_the_cli_exits_2_naming_the_key_without_a_traceback(
    repo: Path, tmp_path: Path, break_it: Any, named: str
) -> None:
    raw = example_config_dict()
    raw["feast"]["repo_path"] = str(repo)
    raw["kafka"].update(bootstrap_servers="127.0.0.1:9", unavailable_timeout_s=1)  # the config fails first
    break_it(raw, repo)
    done = _run_cli(_write(tmp_path, raw))
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr
