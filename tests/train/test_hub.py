"""The hub path offline: folders laid out like the real repositories, loaded through the same
`load_dataset` call, for every format; the studio's own errors for what goes wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.errors import DataError, StudioError
from studio.core.tasks.availability import resolve
from studio.core.tasks.records import record_problem
from studio.core.tasks.spec import HubSource, TaskSpec, parse_task
from studio.train.data.hub import hub_records
from tests import hub_repos

PAIRS = [
    {"sentence1": f"A {i} sentence.", "sentence2": f"Another {i}.", "label": i % 2}
    for i in range(6)
]


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "mirror"
    monkeypatch.setenv("STUDIO_HUB_MIRROR", str(root))
    return root


def _records(spec: TaskSpec, split: str = "train") -> list[dict]:
    records, key = hub_records(spec, split)
    assert key.startswith("hub:")
    rows = [dict(r) for r in records]
    assert all(record_problem(r, spec) is None for r in rows)
    return rows


def _spec(hub: dict, fmt: str = "pair_classification", **extra: object) -> TaskSpec:
    data = {
        "name": "probe",
        "family": "classification",
        "format": fmt,
        "labels": ["a", "b"],
        "source": {"hub": hub},
        **extra,
    }
    return parse_task(data, "/tasks/probe.yaml")


def test_glue_configs_load_for_pair_classification_and_regression(
    catalog: dict[str, TaskSpec], mirror: Path, tmp_path: Path
) -> None:
    sts = [{"sentence1": "a b", "sentence2": "c d", "label": 3.5}] * 3
    hub_repos.configs_repo(
        mirror,
        "nyu-mll/glue",
        {
            "rte": {"train": PAIRS, "validation": PAIRS[:2]},
            "stsb": {"train": sts, "validation": sts},
            "sst2": {"train": [{"sentence": "fine", "label": 1, "idx": 0}] * 2},
        },
    )
    where = resolve(catalog["mnli"], None, tmp_path, online=False)
    assert where.available and "local copy" in (where.detail or "")
    rte = _records(catalog["rte"], "validation")
    assert rte == [
        {"text": p["sentence1"], "text_pair": p["sentence2"], "label": p["label"]}
        for p in PAIRS[:2]
    ]
    stsb = _records(catalog["stsb"])
    assert stsb[0]["label"] == 3.5
    assert _records(catalog["sst2"])[0] == {"text": "fine", "label": 1}


def test_multiple_choice_from_separate_and_list_columns(
    catalog: dict[str, TaskSpec], mirror: Path
) -> None:
    copa = [
        {"premise": "It rained.", "choice1": "I got wet.", "choice2": "I sang.",
         "question": "effect", "label": 0, "idx": 0},
    ]  # fmt: skip
    hub_repos.configs_repo(mirror, "aps/super_glue", {"copa": {"train": copa, "validation": copa}})
    assert _records(catalog["copa"]) == [
        {
            "context": "It rained.",
            "question": "effect",
            "choices": ["I got wet.", "I sang."],
            "label": 0,
        }
    ]
    race = [
        {"article": "Text.", "question": "Q?", "options": ["w", "x", "y", "z"], "answer": "C",
         "example_id": "1"},
    ]  # fmt: skip
    hub_repos.configs_repo(mirror, "ehovy/race", {"all": {"train": race, "validation": race}})
    assert _records(catalog["race"])[0]["label"] == 2  # label_map: "C" -> 2
    assert _records(catalog["race"])[0]["choices"] == ["w", "x", "y", "z"]


def test_span_qa_and_rows_without_gold_label(catalog: dict[str, TaskSpec], mirror: Path) -> None:
    squad = [
        {"id": "1", "title": "t", "context": "Paris is in France.", "question": "Where?",
         "answers": {"text": ["France"], "answer_start": [12]}},
    ]  # fmt: skip
    hub_repos.data_repo(mirror, "rajpurkar/squad", {"train": squad, "validation": squad})
    assert _records(catalog["squad_v1"])[0]["answers"] == {"text": ["France"], "answer_start": [12]}
    snli = [{"premise": "p", "hypothesis": "h", "label": label} for label in (0, -1, 2, -1, 1)]
    hub_repos.data_repo(mirror, "stanfordnlp/snli", {"train": snli, "validation": snli})
    assert [r["label"] for r in _records(catalog["snli"])] == [0, 2, 1]  # -1: no gold label


def test_summarization_from_the_parquet_export_of_a_script_repository(
    catalog: dict[str, TaskSpec], mirror: Path
) -> None:
    spec = catalog["xsum"]
    assert spec.hub is not None and spec.hub.revision == "refs/convert/parquet"
    rows = [{"document": "A long story about things.", "summary": "Things.", "id": "1"}] * 3
    hub_repos.export_repo(
        mirror, "EdinburghNLP/xsum", {"train": rows, "validation": rows, "test": rows}
    )
    assert _records(spec, "validation")[0] == {
        "document": rows[0]["document"],
        "summary": "Things.",
    }


def test_a_script_repository_is_named_with_what_to_do(mirror: Path) -> None:
    hub_repos.script_repo(mirror, "someone/scripted")
    with pytest.raises(StudioError) as info:
        hub_records(_spec({"path": "someone/scripted"}), "train")
    message = str(info.value)
    assert "task 'probe'" in message and "someone/scripted" in message
    assert "loading-script repository" in message and "refs/convert/parquet" in message
    assert "Traceback" not in message


def test_missing_split_column_and_config_are_named(mirror: Path) -> None:
    hub_repos.data_repo(mirror, "me/pairs", {"train": PAIRS})
    with pytest.raises(StudioError, match=r"split 'validation'.*me/pairs"):
        hub_records(_spec({"path": "me/pairs"}), "validation")
    columns = {"sentence1": "text", "hypothesis": "text_pair", "label": "label"}
    with pytest.raises(StudioError, match=r"no column\(s\) \['hypothesis'\].*sentence2"):
        hub_records(_spec({"path": "me/pairs", "columns": columns}), "train")
    hub_repos.configs_repo(mirror, "me/many", {"a": {"train": PAIRS}, "b": {"train": PAIRS}})
    with pytest.raises(
        StudioError, match=r"me/many.*Config name is missing.*pick one as the config"
    ):
        hub_records(_spec({"path": "me/many"}), "train")


def test_string_labels_need_a_label_map(mirror: Path) -> None:
    rows = [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]
    hub_repos.data_repo(mirror, "me/strings", {"train": rows})
    hub = {"path": "me/strings", "columns": {"text": "text", "label": "label"}}
    with pytest.raises(StudioError, match=r"label column 'label'.*holds strings.*label_map"):
        hub_records(_spec(hub, "classification"), "train")
    mapped = _records(_spec(hub | {"label_map": {"neg": 0, "pos": 1}}, "classification"))
    assert [r["label"] for r in mapped] == [1, 0]
    with pytest.raises(
        DataError, match=r"me/strings split train, row 1.*'neg' is not in label_map"
    ):
        hub_records(_spec(hub | {"label_map": {"pos": 1}}, "classification"), "train")


def test_a_cached_dataset_is_available_and_loads_offline(studio_home: Path, tmp_path: Path) -> None:
    cache = studio_home / "hf-datasets"  # HF_DATASETS_CACHE in tests
    hub = {"path": "owner/cached", "name": "pairs", "columns": {"sentence1": "text",
           "sentence2": "text_pair", "label": "label"}}  # fmt: skip
    spec = _spec(hub)
    where = resolve(spec, None, tmp_path, online=False)
    assert not where.available
    assert "not in the Hugging Face cache" in (where.reason or "")
    hub_repos.cache_dataset(cache, "owner/cached", "pairs", {"train": PAIRS, "validation": PAIRS})
    where = resolve(spec, None, tmp_path, online=False)
    assert where.available and "Hugging Face cache" in (where.detail or "")
    assert len(_records(spec)) == len(PAIRS)  # HF_HUB_OFFLINE=1: from the cache alone


def test_an_unsupported_source_says_why_unless_cached(studio_home: Path, tmp_path: Path) -> None:
    spec = _spec({"path": "owner/old", "unsupported": "it needs a loading script"})
    assert spec.hub == HubSource(path="owner/old", unsupported="it needs a loading script")
    where = resolve(spec, None, tmp_path, online=True)
    assert not where.available and "it needs a loading script" in (where.reason or "")
    with pytest.raises(StudioError, match="task 'probe'.*owner/old.*loading script"):
        hub_records(spec, "train")
    hub_repos.cache_dataset(studio_home / "hf-datasets", "owner/old", "default", {"train": PAIRS})
    assert resolve(spec, None, tmp_path, online=False).available
