"""The run being drafted: the Configure form's settings and the checked tasks, as one config.

The controllers read the draft and fill it through this object, never through the window.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from studio.core.config.run import RunConfig
from studio.ui.configure.checklist import TaskChecklist
from studio.ui.configure.form import ConfigForm

REMEMBERED = "config_yaml"  # the key of the last config started, in the window's settings


class Draft:
    """The form and the checklist as one RunConfig; the task order a loaded config gave."""

    def __init__(self, form: ConfigForm, checklist: TaskChecklist, settings: QSettings) -> None:
        self.form, self.checklist, self.settings = form, checklist, settings
        self.task_order: list[str] = []  # a loaded config's order (sequential mixing needs it)

    def config(self) -> RunConfig:
        """The form's settings and the checked tasks, in the order the loaded config gave them
        (it matters for sequential mixing); newly checked tasks follow in catalog order.
        ConfigError names what to fix."""
        checked = self.checklist.checked()
        ordered = [t for t in self.task_order if t in checked]
        return self.form.config(ordered + [t for t in checked if t not in ordered])

    def apply(self, config: RunConfig) -> None:
        """Show `config`: its settings in the form, its tasks checked."""
        self.task_order = list(config.tasks)
        self.form.set_config(config)
        self.checklist.set_checked(list(config.tasks))
        self.update_shares()

    def update_shares(self, *_: object) -> None:
        """Share previews follow the sampling settings; manual weights follow the checked tasks."""
        self.checklist.set_sampling(*self.form.sampling_settings())
        self.form.set_tasks(self.checklist.checked())

    def remember(self, config: RunConfig) -> None:
        """The config a run started with is the one the next window opens with."""
        self.settings.setValue(REMEMBERED, config.to_yaml())
