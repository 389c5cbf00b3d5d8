"""The jobs example: members act on jobs; rankers read fresh windowed features.

Copy this repo, run ``feast apply``, push actions with
``feast_pinot.push_actions`` (or run the stream ingester), and read
``job_ranking_v1`` with ``request_ts`` (epoch ms) in every entity row.

To rank, read ``job_candidates_v1`` with one row per candidate job (the same
member and ``request_ts`` in each) and ``member_context_v1`` once per member:
the mean embeddings are the same for every candidate, so they are not
repeated N times.

Beyond the mean (decayed features, the member's several interests, what the
member already did to the candidate): ``job_ranking_v2`` and
``job_candidates_v2`` are the v1 services plus ``member_job_interests``; the
member's clustering is done once per (member, ``request_ts``) of a call.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float32, Int64, String

from feast_pinot import Interests, ObjectAttribute, action_history, action_log, windowed_action_features
from feast_pinot.windows import verb_slug

EMBEDDING_DIM = 64
VERBS = ("job-apply", "job-save", "job-dismiss", "job-view")
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "96h": timedelta(hours=96)}
HALF_LIVES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
SEEN_WINDOWS = {"24h": timedelta(hours=24), "96h": timedelta(hours=96)}

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

# Beyond the mean, from the same history: time-decayed counts/means/similarities per
# half-life, the member's several interests (Ward clusters of what they applied to
# or saved, their medoids ranked by decayed importance), and what the member already
# did to the candidate job (applied to it? dismissed it? how long ago?).
INTERESTS = Interests(k=5, half_life=timedelta(hours=24), verbs=("job-apply", "job-save"))

member_job_interests = windowed_action_features(
    "member_job_interests", member_recent_actions,
    verbs=RANKING_VERBS, candidate=job_attributes[["embedding"]],
    half_lives=HALF_LIVES, interests=INTERESTS, seen_windows=SEEN_WINDOWS, object_prefix="job:",
)
# The same from the light log: the embeddings of a read-time join (and its object prefix).
member_job_interests_joined = windowed_action_features(
    "member_job_interests_joined", member_recent_actions_joined,
    verbs=RANKING_VERBS, candidate=job_attributes[["embedding"]],
    half_lives=HALF_LIVES, interests=INTERESTS, seen_windows=SEEN_WINDOWS,
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

job_ranking_v2 = FeatureService(
    name="job_ranking_v2",
    features=[
        member_profile[["industry", "seniority", "years_experience"]],
        member_job_windows,
        member_job_interests,
    ],
    description="job_ranking_v1 + decayed, multi-interest and already-acted-on features",
)

# -- ranking: one member against N candidate jobs in one call ------------------------


def _window_features(kind: str) -> list[str]:
    return [f"{verb_slug(v)}_{kind}_{label}" for v in RANKING_VERBS for label in WINDOWS]


# One row per candidate: its similarity to each window's mean, the member's counts
# and batch features. Member-level work is done once per call, not once per row.
job_candidates_v1 = FeatureService(
    name="job_candidates_v1",
    features=[
        member_profile[["industry", "seniority", "years_experience"]],
        member_job_windows[_window_features("sim") + _window_features("count")],
    ],
    description="per candidate job: similarities to the member's windowed means, counts, batch features",
)

# One row per member: the windowed mean embeddings the candidates were scored against.
# The same windows without a candidate, so neither serving nor training needs a job_id.
member_windows = windowed_action_features("member_windows", member_recent_actions, WINDOWS,
                                          verbs=RANKING_VERBS)
member_context_v1 = FeatureService(
    name="member_context_v1",
    features=[member_windows[_window_features("mean_emb")]],
    description="per member: windowed mean embeddings (request with member_id and request_ts)",
)



def _per_candidate_interest_features() -> list[str]:
    per_verb = [f"{verb_slug(v)}_{kind}_{label}" for v in RANKING_VERBS
                for kind, labels in (("decayed_sim", HALF_LIVES), ("seen_count", SEEN_WINDOWS),
                                     ("seen_age_ms", SEEN_WINDOWS))
                for label in labels]
    return [*per_verb, "interest_max_sim", "interest_weighted_sim"]


# Per candidate, beyond the mean: decayed similarities, the best and the importance-weighted
# similarity to the member's interests, and whether (and how long ago) the member already
# applied to or dismissed this very job. The member's clustering is done once per call.
job_candidates_v2 = FeatureService(
    name="job_candidates_v2",
    features=[
        member_profile[["industry", "seniority", "years_experience"]],
        member_job_windows[_window_features("sim") + _window_features("count")],
        member_job_interests[_per_candidate_interest_features()],
    ],
    description="job_candidates_v1 + per-candidate decayed, multi-interest and already-acted-on features",
)
