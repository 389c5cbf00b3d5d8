"""Run by the wheel's clean venv in a copy of feature_repo/: push actions, read them back, print JSON.

It imports only what the wheel installs (this file is run as a script, not as part of ``tests``).
"""

from __future__ import annotations

import json
import sys
import time

from feast import FeatureStore

from feast_pinot import push_actions

HOUR = 3_600_000


def main(repo: str) -> None:
    store = FeatureStore(repo_path=repo)
    now = int(time.time() * 1000)
    actions = [
        {"actor": 7, "verb": "job-apply", "object": f"job:{job}", "timestamp": now - ago,
         "objectAttributes": {"embedding": [0.5] * 64}}
        for job, ago in ((3, HOUR // 6), (4, HOUR // 3), (5, 3 * HOUR))
    ]
    pushed = push_actions(store, "member_actions", actions)
    rows = [{"member_id": 7, "job_id": 3, "request_ts": now}]
    got = store.get_online_features(
        features=["member_job_windows:job_apply_count_1h", "member_job_windows:job_apply_count_24h"],
        entity_rows=rows,
    ).to_dict()
    print(json.dumps({"pushed": pushed, "count_1h": got["job_apply_count_1h"][0],
                      "count_24h": got["job_apply_count_24h"][0]}))


if __name__ == "__main__":
    main(sys.argv[1])
