from pathlib import Path

import pytest

from studio.core.config import presets
from studio.core.config.run import RunConfig
from studio.core.errors import ConfigError


@pytest.mark.parametrize("device", ["cpu", "cuda", "mps"])
def test_every_builtin_preset_is_a_valid_config(device: str) -> None:
    base = RunConfig(tasks=("rte", "squad"), name="mine", max_length=64)
    for name, settings in presets.builtin_presets(device).items():
        config = presets.apply(base, settings)
        assert (config.tasks, config.name) == (base.tasks, "mine"), name


def test_the_quick_look_is_smaller_on_a_cpu() -> None:
    cpu, gpu = presets.quick_look("cpu"), presets.quick_look("cuda")
    assert cpu["max_length"] < gpu["max_length"]
    assert cpu["batch_size"] * cpu["tasks_per_update"] < gpu["batch_size"] * gpu["tasks_per_update"]
    assert presets.muppet_recipe()["loss_scaling"] == "log_n"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("CUDA: NVIDIA H200, 139 GiB", "cuda"),
        ("Apple MPS", "mps"),
        ("CPU: 2 cores", "cpu"),
        ("", "cpu"),
    ],
)
def test_device_kind(text: str, kind: str) -> None:
    assert presets.device_kind(text) == kind


def test_a_saved_preset_keeps_settings_not_tasks(tmp_path: Path) -> None:
    config = RunConfig(tasks=("rte",), name="x", batch_size=3, learning_rate=1e-4)
    path = presets.save("small batches", config, tmp_path)
    assert path == tmp_path / "small batches.yaml"
    found, problems = presets.user_presets(tmp_path)
    assert problems == []
    settings = found["small batches"]
    assert "tasks" not in settings and "name" not in settings
    other = presets.apply(RunConfig(tasks=("cola", "sst2")), settings)
    assert (other.tasks, other.batch_size, other.learning_rate) == (("cola", "sst2"), 3, 1e-4)


@pytest.mark.parametrize("name", ["", " padded", "a/b", "x" * 65, presets.QUICK_LOOK])
def test_bad_preset_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="preset name"):
        presets.save(name, RunConfig(tasks=("rte",)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_preset_file_is_reported_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("batch_size: 4\n")
    (tmp_path / "bad.yaml").write_text("batch_size: -4\n")
    (tmp_path / "junk.yaml").write_text("- a list\n")
    (tmp_path / "unknown.yaml").write_text("batch_sise: 4\n")
    found, problems = presets.user_presets(tmp_path)
    assert list(found) == ["good"]
    assert len(problems) == 3
    assert any("bad.yaml" in p and "batch_size" in p for p in problems)
    assert any("unknown.yaml" in p and "batch_sise" in p for p in problems)
    assert any("junk.yaml" in p and "mapping" in p for p in problems)


def test_user_presets_live_in_studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    presets.save("mine", RunConfig(tasks=("rte",)))
    assert (tmp_path / "presets" / "mine.yaml").is_file()
    assert "mine" in presets.user_presets()[0]


def test_the_builtin_presets_pick_the_learning_rate_by_the_model_size() -> None:
    quick = presets.apply(
        RunConfig(tasks=("rte",), model="roberta-base"), presets.quick_look("cpu")
    )
    assert (quick.model, quick.learning_rate) == ("minilm", 5e-5)  # the quick look's own model
    muppet = presets.muppet_recipe()
    for model, rate in (("roberta-base", 3e-5), ("roberta-large", 1e-5), ("minilm", 5e-5)):
        config = presets.apply(RunConfig(tasks=("rte",), model=model), muppet)
        assert config.learning_rate == rate, model


def test_a_transfer_that_sets_no_rate_takes_its_base_models(tmp_path: Path) -> None:
    from studio.core.experiments.transfer import finetune_config, transfer_config

    grid = {"source": "run", "targets": ["rte"]}
    assert transfer_config(grid).settings.learning_rate == 1e-4  # minilm
    assert transfer_config({**grid, "base_model": "roberta-base"}).settings.learning_rate == 2e-5
    assert transfer_config({**grid, "base_model": "x/y-large"}).settings.learning_rate == 1e-5
    given = {**grid, "base_model": "roberta-large", "learning_rate": 3e-5}
    assert transfer_config(given).settings.learning_rate == 3e-5
    # A fine-tuning of a run id says nothing of its base: the default stays.
    assert (
        finetune_config({"task": "rte", "model": "20261128-122547-39f8"}).settings.learning_rate
        == 1e-4
    )
    assert finetune_config({"task": "rte", "model": "roberta-base"}).settings.learning_rate == 2e-5
