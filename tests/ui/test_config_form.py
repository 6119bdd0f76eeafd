"""The Configure form: round trip of every field, tooltips, enabling rules, manual weights."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSlider,
    QSpinBox,
)

from studio.core import paths  # noqa: E402
from studio.core.config import presets
from studio.core.config.run import RunConfig  # noqa: E402
from studio.core.config.settings import (
    Range,  # noqa: E402
    Setting,  # noqa: E402
)
from studio.core.errors import ConfigError  # noqa: E402
from studio.ui.configure.form import ConfigForm  # noqa: E402
from studio.ui.configure.setting_fields import NumberField  # noqa: E402

TASKS = ("rte", "sst2", "arc")
# A value different from the default for every field of RunConfig.
NON_DEFAULT = RunConfig(
    tasks=TASKS,
    name="glue-and-friends",
    model="roberta-base",
    loss_scaling="manual",
    manual_weights={"rte": 2.5, "sst2": 0.5, "arc": 0.0},
    mixing="homogeneous",
    tasks_per_update=6,
    sampling="temperature",
    temperature=3.5,
    examples_cap=20000,
    head_sharing="per_dataset",
    pooling="first",
    batch_size=24,
    learning_rate=3e-5,
    weight_decay=0.05,
    max_steps=2500,
    warmup_ratio=0.1,
    grad_clip=0.5,
    eval_every=250,
    eval_max_examples=None,
    log_every=5,
    checkpoint_every=750,
    keep_checkpoints=4,
    max_length=384,
    doc_stride=128,
    max_target_length=96,
    num_beams=4,
    label_smoothing=0.0,
    seed=7,
    device="cpu",
    mixed_precision="bf16",
    num_threads=3,
    num_proc=5,
    r3f_lambda=1.0,
    r3f_eps=2e-6,
    r3f_noise="normal",
    report_to="tensorboard",
    fuse_update="on",
    compile="off",
    task_embedding=True,
    task_embedding_dropout=0.25,
)


@pytest.fixture
def form(qtbot) -> ConfigForm:
    widget = ConfigForm()
    qtbot.addWidget(widget)
    return widget


def test_every_field_differs_from_its_default() -> None:
    default = RunConfig(tasks=TASKS)
    same = [
        f.name
        for f in dataclasses.fields(RunConfig)
        if f.name != "tasks" and getattr(NON_DEFAULT, f.name) == getattr(default, f.name)
    ]
    assert same == []


def test_round_trip_of_a_fully_non_default_config(qtbot, form: ConfigForm) -> None:
    with qtbot.waitSignal(form.changed):
        form.set_config(NON_DEFAULT)
    assert form.config(TASKS) == NON_DEFAULT
    form.set_config(RunConfig(tasks=TASKS))
    assert form.config(TASKS) == RunConfig(tasks=TASKS)


@pytest.mark.parametrize(
    "model", ["minilm", "minilm-seq2seq", "/models/my-encoder", "facebook/bart-base"]
)
def test_model_round_trip(form: ConfigForm, model: str) -> None:
    form.set_config(RunConfig(tasks=TASKS, model=model))
    assert form.model_name() == model
    assert form.config(TASKS).model == model


def test_default_model_is_labelled_as_minilm(form: ConfigForm) -> None:
    assert "all-MiniLM-L6-v2" in form.fields["model"].currentText()
    assert form.config(TASKS).model == "minilm"


def test_offline_encoder_decoder_is_offered(form: ConfigForm) -> None:
    box = form.fields["model"]
    index = box.findText("MiniLM encoder-decoder (offline)")
    assert index >= 0 and box.itemData(index) == "minilm-seq2seq"


def test_summarization_settings_follow_the_model(form: ConfigForm) -> None:
    keys = ("max_target_length", "num_beams", "label_smoothing")
    assert not any(form.fields[k].isEnabled() for k in keys)  # minilm is encoder-only
    form.set_config(RunConfig(tasks=TASKS, model="minilm-seq2seq"))
    assert all(form.fields[k].isEnabled() for k in keys)
    form.fields["model"].setEditText("t5-small")
    assert all(form.fields[k].isEnabled() for k in keys)
    form.fields["model"].setEditText("roberta-base")
    assert not any(form.fields[k].isEnabled() for k in keys)


def test_every_input_has_a_tooltip(form: ConfigForm) -> None:
    form.set_tasks(TASKS)
    kinds = (QSpinBox, QDoubleSpinBox, QComboBox, QLineEdit, QCheckBox, QSlider)
    inputs = [
        w
        for kind in kinds
        for w in form.findChildren(kind)
        # The line edit inside a spin box or combo box is part of it; the owner has the tooltip.
        if not isinstance(w.parent(), (QAbstractSpinBox, QComboBox))
    ]
    assert len(inputs) >= 30
    missing = [f"{type(w).__name__} {w.objectName()}" for w in inputs if not w.toolTip().strip()]
    assert missing == []
    assert all(form.fields[key].toolTip() for key in form.fields)
    for row in range(form._weights_table.rowCount()):
        assert form._weights_table.item(row, 1).toolTip()


def test_every_run_config_field_has_an_input(form: ConfigForm) -> None:
    covered = set(form.fields) | {"tasks", "manual_weights"}
    assert {f.name for f in dataclasses.fields(RunConfig)} <= covered


def test_temperature_only_for_temperature_sampling(form: ConfigForm) -> None:
    sampling, temperature = form.fields["sampling"], form.fields["temperature"]
    for value in ("proportional", "uniform", "temperature"):
        sampling.setCurrentIndex(sampling.findData(value))
        on = value == "temperature"
        assert temperature.isEnabled() is on
        assert form._slider.isEnabled() is on
    form._slider.setValue(45)
    assert form.sampling_settings() == ("temperature", 4.5, None)
    form.fields["examples_cap"].setValue(5000)
    assert form.sampling_settings() == ("temperature", 4.5, 5000)


def test_changed_fires_on_edits(qtbot, form: ConfigForm) -> None:
    with qtbot.waitSignal(form.changed):
        form.fields["batch_size"].setValue(64)
    with qtbot.waitSignal(form.changed):
        form.fields["name"].setText("x")
    with qtbot.waitSignal(form.changed):
        form.fields["model"].setEditText("bert-base-cased")


def test_manual_weights_table_follows_set_tasks(form: ConfigForm) -> None:
    table = form._weights_table
    scaling = form.fields["loss_scaling"]
    assert table.isHidden()
    scaling.setCurrentIndex(scaling.findData("manual"))
    assert not table.isHidden()
    form.set_tasks(["rte", "sst2"])
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["rte", "sst2"]
    table.item(1, 1).setData(Qt.ItemDataRole.EditRole, 3.0)  # as the editor would
    assert form.config(["rte", "sst2"]).manual_weights == {"rte": 1.0, "sst2": 3.0}
    form.set_tasks(["cola", "sst2"])  # sst2's weight is remembered
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["cola", "sst2"]
    assert table.item(1, 1).data(Qt.ItemDataRole.EditRole) == 3.0
    scaling.setCurrentIndex(scaling.findData("log_n"))
    assert table.isHidden()
    assert form.config(["cola", "sst2"]).manual_weights == {}


def test_weight_editor_is_a_bounded_spin_box(qtbot, form: ConfigForm) -> None:
    scaling = form.fields["loss_scaling"]
    scaling.setCurrentIndex(scaling.findData("manual"))
    form.set_tasks(["rte", "sst2"])
    with qtbot.waitExposed(form):
        form.show()
    table = form._weights_table
    table.editItem(table.item(0, 1))
    editor = table.findChildren(QDoubleSpinBox)[0]
    assert (editor.minimum(), editor.maximum()) == (0.0, 1e6)  # no negative weights
    assert editor.toolTip()
    editor.setValue(4.5)
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits through a queued call
    qtbot.waitUntil(lambda: table.state() != table.State.EditingState)
    assert form.config(["rte", "sst2"]).manual_weights == {"rte": 4.5, "sst2": 1.0}


def test_invalid_combination_names_the_key(form: ConfigForm) -> None:
    form.fields["doc_stride"].setValue(0)  # "auto": a quarter of max length
    assert form.config(TASKS).doc_stride is None
    with pytest.raises(ConfigError, match="tasks"):
        form.config([])


def test_optional_fields_map_to_none(form: ConfigForm) -> None:
    form.fields["eval_max_examples"].setValue(0)
    form.fields["num_threads"].setValue(0)
    assert form.fields["eval_max_examples"].text() == "all"
    cfg = form.config(TASKS)
    assert (cfg.eval_max_examples, cfg.num_threads, cfg.examples_cap) == (None, None, None)


def test_scientific_spin_box(qtbot) -> None:
    spin = NumberField(Setting("rate", "", "sci", range=Range(1e-10, 1.0)))
    qtbot.addWidget(spin)
    spin.setValue(3e-5)
    assert spin.text() == "3e-5"
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "2e-4")
    spin.interpretText()
    assert spin.value() == pytest.approx(2e-4)
    spin.setValue(9e-5)
    spin.stepBy(1)
    assert spin.value() == pytest.approx(1e-4)
    spin.stepBy(-1)
    assert spin.value() == pytest.approx(9e-5)


def test_device_info(form: ConfigForm) -> None:
    form.set_device_info("CUDA: NVIDIA H200, 139 GB")
    assert form._device_info.text() == "CUDA: NVIDIA H200, 139 GB"


def test_presets_fill_the_form_but_keep_name_and_tasks(form: ConfigForm) -> None:
    form.set_config(RunConfig(tasks=TASKS, name="mine", max_length=512, loss_scaling="none"))
    form.set_tasks(TASKS)
    assert form.preset_names()[:2] == [presets.QUICK_LOOK, presets.MUPPET]
    form.apply_preset(presets.MUPPET)
    config = form.config(TASKS)
    assert (config.name, config.tasks, config.loss_scaling) == ("mine", TASKS, "log_n")
    assert form.preset_bar.current() == presets.MUPPET
    form.fields["batch_size"].setValue(5)  # an edit: the settings are no longer the preset's
    assert form.preset_bar.current() == "Custom settings"


def test_a_pristine_quick_look_follows_the_detected_device(form: ConfigForm) -> None:
    form.apply_preset(presets.QUICK_LOOK, pristine=True)
    cpu = presets.quick_look("cpu")
    assert form.config(TASKS).max_length == cpu["max_length"]
    form.set_device_info("CUDA: NVIDIA H200, 139 GiB")
    assert form.config(TASKS).max_length == presets.quick_look("cuda")["max_length"]
    form.fields["max_steps"].setValue(77)  # edited: a later probe leaves it alone
    form.set_device_info("CPU: 2 cores")
    assert (form.config(TASKS).max_steps, form.config(TASKS).max_length) == (77, 256)


def test_saving_and_deleting_a_preset(form: ConfigForm) -> None:
    form.set_config(RunConfig(tasks=TASKS, batch_size=3))
    form.save_preset("tiny batches")
    assert "tiny batches" in form.preset_names()
    assert (paths.studio_home() / "presets" / "tiny batches.yaml").is_file()
    form.fields["batch_size"].setValue(40)
    form.apply_preset("tiny batches")
    assert form.config(TASKS).batch_size == 3
    assert form.preset_bar.delete_button.isEnabled()
    form.preset_bar.remove()
    assert "tiny batches" not in form.preset_names()
    with pytest.raises(ConfigError, match="built-in"):
        form.save_preset(presets.MUPPET)
