"""The jobs example: members act on jobs; rankers read fresh windowed features.

Copy this repo, run ``feast apply``, push actions with
``feast_pinot.push_actions`` (or run the stream ingester), and read
``job_ranking_v1`` with ``request_ts`` (epoch ms) in every entity row.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float32, Int64, String

from feast_pinot import ObjectAttribute, action_history, action_log, windowed_action_features

EMBEDDING_DIM = 64
VERBS = ("job-apply", "job-save", "job-dismiss", "job-view")
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "96h": timedelta(hours=96)}

# -- entities -------------------------------------------------------------------

member = Entity(name="member", join_keys=["member_id"], value_type=ValueType.INT64,
                description="a member of the site")
job = Entity(name="job", join_keys=["job_id"], value_type=ValueType.INT64,
             description="a job posting")

# -- conventional batch features (materialized) -----------------------------------

member_profile = FeatureView(
    name="member_profile",
    entities=[member],
    ttl=timedelta(days=365),
    schema=[
        Field(name="member_id", dtype=Int64),
        Field(name="industry", dtype=String),
        Field(name="seniority", dtype=Int64),
        Field(name="years_experience", dtype=Float32),
    ],
    source=FileSource(name="member_profile_source", path="data/member_profile.parquet",
                      timestamp_field="event_timestamp"),
    description="slowly changing member attributes",
)

job_attributes = FeatureView(
    name="job_attributes",
    entities=[job],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="job_id", dtype=Int64),
        Field(name="embedding", dtype=Array(Float32)),
        Field(name="geo", dtype=String),
    ],
    source=FileSource(name="job_attributes_source", path="data/job_attributes.parquet",
                      timestamp_field="event_timestamp"),
    description="job embedding (dim 64) and location",
)

# -- the action log: every member action, pushed as it happens --------------------
# Embeddings are stored with each action (an ingest-time join).

member_actions = action_log(
    "member_actions",
    actor=member,
    verbs=VERBS,
    path="data/member_actions",
    embedding_dim=EMBEDDING_DIM,
    retention=timedelta(hours=96),
    max_actions=200,
)

# -- recent-action histories: two ways to get the embeddings ----------------------

# Stored with each action: fastest read, the log carries 64 floats per action.
member_recent_actions = action_history("member_recent_actions", member_actions)

# Joined from job_attributes when read: small log, one extra lookup per read.
member_actions_light = action_log(
    "member_actions_light",
    actor=member,
    verbs=VERBS,
    path="data/member_actions_light",
    retention=timedelta(hours=96),
    max_actions=200,
)
member_recent_actions_joined = action_history(
    "member_recent_actions_joined",
    member_actions_light,
    attribute=ObjectAttribute(job_attributes, "embedding", dim=EMBEDDING_DIM, object_prefix="job:"),
)

# -- request-time windowed features --------------------------------------------------

# Per verb and window: count, mean embedding, cosine similarity to the candidate job.
# Every entity row needs request_ts (epoch ms): the instant the windows end at.
RANKING_VERBS = ("job-apply", "job-dismiss")

member_job_windows = windowed_action_features(
    "member_job_windows", member_recent_actions, WINDOWS,
    verbs=RANKING_VERBS, candidate=job_attributes[["embedding"]],
)
member_job_windows_joined = windowed_action_features(
    "member_job_windows_joined", member_recent_actions_joined, WINDOWS,
    verbs=RANKING_VERBS, candidate=job_attributes[["embedding"]],
)

# -- what a ranker asks for -----------------------------------------------------------

job_ranking_v1 = FeatureService(
    name="job_ranking_v1",
    features=[
        member_profile[["industry", "seniority", "years_experience"]],
        member_job_windows,
    ],
    description="batch member features + fresh windowed action features",
)
