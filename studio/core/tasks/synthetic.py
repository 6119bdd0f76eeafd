"""The synthetic demo suite: small learnable tasks of every format, generated deterministically.

They let a fresh offline install run end to end with no data. They are toys, not benchmarks,
and are marked `synthetic` wherever the catalog is shown.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Record = dict[str, Any]

POSITIVE = ["great", "wonderful", "excellent", "lovely", "superb", "delightful", "brilliant"]
NEGATIVE = ["awful", "terrible", "boring", "dreadful", "poor", "horrible", "dull"]
NOUNS = ["film", "meal", "book", "concert", "hotel", "game", "trip", "lecture", "show"]
TOPICS = {
    "sports": ["team", "goal", "match", "coach", "league", "score"],
    "science": ["atom", "theory", "experiment", "cell", "laboratory", "physics"],
    "music": ["song", "guitar", "album", "melody", "band", "chorus"],
    "food": ["recipe", "bread", "kitchen", "soup", "spice", "dessert"],
}
FILLER = ["the", "a", "really", "was", "quite", "today", "we", "saw", "it", "and", "very"]
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]
THINGS = ["car", "house", "door", "hat", "kite", "boat", "cup", "chair", "lamp", "bike"]
NAMES = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jia"]
CITIES = ["Lisbon", "Osaka", "Nairobi", "Quito", "Oslo", "Hanoi", "Dakar", "Lima", "Perth"]


def _sentence(rng: random.Random, words: list[str], n_filler: int = 5) -> str:
    tokens = words + rng.sample(FILLER, n_filler)
    rng.shuffle(tokens)
    return " ".join(tokens).capitalize() + "."


def sentiment(rng: random.Random) -> Record:
    label = rng.randrange(2)
    word = rng.choice(POSITIVE if label else NEGATIVE)
    return {"text": _sentence(rng, [rng.choice(NOUNS), word]), "label": label}


def topic(rng: random.Random) -> Record:
    label = rng.randrange(len(TOPICS))
    words = rng.sample(list(TOPICS.values())[label], 2)
    return {"text": _sentence(rng, words, 4), "label": label}


def pair(rng: random.Random) -> Record:
    thing, color = rng.choice(THINGS), rng.choice(COLORS)
    label = rng.randrange(2)  # 0 = same colour (consistent), 1 = contradiction
    other = color if label == 0 else rng.choice([c for c in COLORS if c != color])
    return {
        "text": f"The {thing} in the garden is {color}.",
        "text_pair": f"There is a {other} {thing} in the garden.",
        "label": label,
    }


def regression(rng: random.Random) -> Record:
    good = rng.randrange(6)
    words = rng.sample(POSITIVE, good) + rng.sample(NEGATIVE, 5 - good)
    return {"text": _sentence(rng, words, 2), "label": float(good)}


def choice(rng: random.Random) -> Record:
    things = rng.sample(THINGS, 3)
    colors = rng.sample(COLORS, 4)
    asked = rng.randrange(3)
    story = " ".join(f"The {t} is {c}." for t, c in zip(things, colors, strict=False))
    order = colors[:]
    rng.shuffle(order)
    return {
        "context": story,
        "question": f"What colour is the {things[asked]}?",
        "choices": order,
        "label": order.index(colors[asked]),
    }


def span(rng: random.Random) -> Record:
    people = rng.sample(NAMES, 3)
    cities = rng.sample(CITIES, 3)
    sentences = [f"{p} lives in {c}." for p, c in zip(people, cities, strict=True)]
    context = " ".join(sentences)
    asked = rng.randrange(3)
    answer = cities[asked]
    start = context.index(f"{people[asked]} lives in ") + len(f"{people[asked]} lives in ")
    return {
        "context": context,
        "question": f"Where does {people[asked]} live?",
        "answers": {"text": [answer], "answer_start": [start]},
    }


def summary(rng: random.Random) -> Record:
    name, city = rng.choice(NAMES), rng.choice(CITIES)
    thing = rng.choice(THINGS)
    doc = (
        f"{name} travelled to {city} last week. The weather was mild. "
        f"{name} bought a {rng.choice(COLORS)} {thing} at the market and went home."
    )
    return {"document": doc, "summary": f"{name} bought a {thing} in {city}."}


GENERATORS: dict[str, Callable[[random.Random], Record]] = {
    "synth_sentiment": sentiment,
    "synth_topic": topic,
    "synth_pair": pair,
    "synth_regression": regression,
    "synth_choice": choice,
    "synth_span": span,
    "synth_summary": summary,
}

SIZES: dict[str, tuple[int, int]] = {name: (800, 200) for name in GENERATORS}


def _write(folder: Path, name: str) -> None:
    rng = random.Random(f"{name}/seed0")
    for split, count in zip(("train", "validation"), SIZES[name], strict=True):
        with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
            for _ in range(count):
                handle.write(json.dumps(GENERATORS[name](rng)) + "\n")


def _complete(folder: Path) -> bool:
    return (folder / "validation.jsonl").is_file() and (folder / "train.jsonl").is_file()


def ensure(name: str, root: Path) -> Path:
    """Generate the task's folder under `root` unless it is already complete; return it."""
    folder = root / name
    if _complete(folder):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        _write(tmp, name)
        # Another process (a second queue worker) may have finished it meanwhile, and may be
        # reading it: a complete folder is never replaced, only a partial one.
        if not _complete(folder):
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.replace(tmp, folder)
            except OSError:
                if not _complete(folder):  # not a writer that won the race: a real failure
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
