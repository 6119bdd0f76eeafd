"""The task picker: a checklist of the catalog grouped by family, with sizes, sources and shares."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.tasks.availability import Availability
from studio.core.tasks.library import removable
from studio.core.tasks.spec import TaskSpec
from studio.ui.configure.checklist_rows import (
    CHECKABLE,
    CHECKED,
    COLUMNS,
    ENABLED,
    FAMILY_TITLES,
    GROUPS,
    MIN_TASKS,
    NAME_ROLE,
    SHARE,
    SHARE_ROLE,
    TASK,
    UNCHECKED,
    compute_shares,
    family_item,
    family_tip,
    format_share,
    group,
    task_item,
    task_tooltips,
    task_tree,
)
from studio.ui.configure.no_data_banner import NoDataBanner
from studio.ui.style import RED
from studio.ui.widgets import clear_button_when_typed, never_widens


class TaskChecklist(QWidget):
    """The left panel: the catalog as a checklist grouped by family (docs/DESIGN.md §6).

    Clicking a family's box checks or unchecks all of its available tasks (those shown by the
    current search). Shares are recomputed from the sampling settings given to `set_sampling`
    whenever the checked set changes.
    """

    checkedChanged = Signal(list)
    taskSelected = Signal(str)  # the task whose data the Data tab shows
    previewRequested = Signal(str)  # show it there now
    addRequested = Signal()
    demoRequested = Signal()  # the "Try the demo" button of the no-data banner
    dataFolderRequested = Signal()
    editRequested = Signal(str)
    removeRequested = Signal(str)

    def __init__(
        self,
        catalog: dict[str, TaskSpec],
        availability: dict[str, Availability],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._availability = availability
        self._sampling: tuple[str, float, int | None] = ("proportional", 2.0, None)
        self._summary_block: str | None = None  # why summarization is off, when it is
        self._busy = False  # set while the code itself changes check states
        self._last: list[str] = []
        self._families: dict[str, QTreeWidgetItem] = {}
        self._family_states: dict[str, Qt.CheckState] = {}
        self._items: dict[str, QTreeWidgetItem] = {}
        self._build()
        self._populate()
        # The numeric columns take ~320 px; below this the Task column would vanish in a dock.
        self.setMinimumWidth(460)

    def sizeHint(self) -> QSize:
        return QSize(540, 760)

    # -- public API ---------------------------------------------------------------------------

    def checked(self) -> list[str]:
        """Checked task names, in catalog order."""
        items = self._items
        return [n for n in self._catalog if n in items and items[n].checkState(TASK) == CHECKED]

    def set_checked(self, names: Iterable[str]) -> list[str]:
        """Check exactly `names`; returns those that cannot be checked (unknown or unavailable)."""
        wanted = set(names)
        skipped = sorted(n for n in wanted if not self.is_checkable(n))
        self._apply({n: n in wanted and self.is_checkable(n) for n in self._items})
        return skipped

    def is_checkable(self, name: str) -> bool:
        """Whether a task can be checked: known, available, and its family not switched off."""
        if name not in self._items:
            return False
        blocked = self._summary_block and self._catalog[name].family == "summarization"
        return self._availability[name].available and not blocked

    def select_all(self) -> None:
        """Check every available task shown by the current search."""
        self._apply({n: True for n in self._visible_checkable()})

    def select_none(self) -> None:
        """Uncheck every task shown by the current search."""
        self._apply({n: False for n, item in self._items.items() if not item.isHidden()})

    def set_family_checked(self, family: str, checked: bool) -> None:
        """Check or uncheck all available (and shown) tasks of one family in one action."""
        names = [n for n in self._visible_checkable() if group(self._catalog[n]) == family]
        self._apply(dict.fromkeys(names, checked))

    def set_filter(self, text: str) -> None:
        """Show only tasks whose name or title contains `text` (case-insensitive)."""
        if self._search.text() != text:
            self._search.setText(text)  # comes back here through textChanged
            return
        needle = text.strip().lower()
        for name, item in self._items.items():
            spec = self._catalog[name]
            item.setHidden(bool(needle) and needle not in f"{name}\n{spec.title}".lower())
        for family in self._families.values():
            kids = [family.child(i) for i in range(family.childCount())]
            family.setHidden(all(k is None or k.isHidden() for k in kids))
            if needle:
                family.setExpanded(True)

    def sizes(self) -> dict[str, int | None]:
        """Training-set size of every task, None where not known yet."""
        return {n: self._availability[n].train_size for n in self._items}

    def set_sampling(self, sampling: str, temperature: float, cap: int | None) -> None:
        """Sampling settings used for the Share column from now on; refreshes it."""
        self._sampling = (sampling, temperature, cap)
        self._refresh_shares()

    def set_shares(self, shares: Mapping[str, float]) -> None:
        """Show given shares (fractions); unchecked or missing tasks show a blank cell."""
        busy, self._busy = self._busy, True
        totals = dict.fromkeys(self._families, 0.0)
        for name, item in self._items.items():
            share = shares.get(name) if item.checkState(TASK) == CHECKED else None
            item.setData(SHARE, SHARE_ROLE, share)
            item.setText(SHARE, "" if share is None else format_share(share))
            totals[group(self._catalog[name])] += share or 0.0
        for family, item in self._families.items():
            # Family rows span all columns (long titles fit), so their share goes in the tooltip.
            item.setData(SHARE, SHARE_ROLE, totals[family])
            block = self._summary_block if family == "summarization" else None
            item.setToolTip(TASK, family_tip(family, block, totals[family]))
        self._busy = busy

    def set_summarization_enabled(self, enabled: bool, reason: str = "") -> None:
        """Turn the summarization family off (e.g. an encoder-only base model cannot generate)."""
        self._summary_block = None if enabled else (reason or "summarization is not available")
        if not enabled:
            self._apply(
                {n: False for n in self._items if self._catalog[n].family == "summarization"}
            )
        self._refresh()  # enables the family first: a child of a disabled item stays disabled
        self._busy = True
        for name in self._items:
            self._decorate(name)
        self._busy = False

    def set_availability(self, availability: dict[str, Availability]) -> None:
        """New availability (e.g. another data folder); keeps what can stay checked."""
        self.set_catalog(self._catalog, availability)

    def set_catalog(
        self, catalog: dict[str, TaskSpec], availability: dict[str, Availability]
    ) -> None:
        """A new catalog (a task added or removed); keeps what can stay checked."""
        keep = self.checked()
        self._catalog = catalog
        self._availability = availability
        self._populate()
        self.set_checked([n for n in keep if self.is_checkable(n)])

    def set_problems(self, problems: list[str]) -> None:
        """Task files of the user's library that were left out, and why."""
        count = len(problems)
        self._problems.setText(
            f"⚠ {count} task file{'s' if count != 1 else ''} of your library could not be "
            "read (hover for details)."
        )
        self._problems.setToolTip("<br><br>".join(html.escape(p) for p in problems))
        self._problems.setVisible(bool(problems))

    def selected(self) -> str | None:
        item = self._tree.currentItem()
        name = item.data(TASK, NAME_ROLE) if item is not None else None
        return name if name in self._items else None

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        search = QLineEdit(placeholderText="Search tasks by name or title…")
        self._search = clear_button_when_typed(search)
        self._search.setToolTip("Show only tasks whose name or title contains this text.")
        self._search.textChanged.connect(self.set_filter)
        all_button = QPushButton("All")
        all_button.setToolTip("Check every available task shown (all of them unless searching).")
        all_button.clicked.connect(self.select_all)
        none_button = QPushButton("None")
        none_button.setToolTip("Uncheck every task shown.")
        none_button.clicked.connect(self.select_none)
        add_button = QPushButton("Add…")
        add_button.setToolTip(
            "Add a task of your own from a CSV, JSON or Parquet file, a saved "
            "datasets folder or a Hugging Face dataset."
        )
        add_button.clicked.connect(self.addRequested)
        top = QHBoxLayout()
        top.addWidget(self._search, 1)
        top.addWidget(all_button)
        top.addWidget(none_button)
        top.addWidget(add_button)

        self._tree = task_tree()
        self._tree.customContextMenuRequested.connect(self._context_menu)
        self._tree.itemChanged.connect(self._on_item_changed)
        self._tree.currentItemChanged.connect(self._on_current_changed)
        self._tree.itemDoubleClicked.connect(self._on_double_click)

        self._count = QLabel()
        self._warning = QLabel()
        never_widens(self._warning)
        self._warning.setObjectName("taskWarning")
        # Amber note: advice, not an error; training still works with fewer tasks.
        self._warning.setStyleSheet(
            "QLabel#taskWarning { background: #FFF7E6; color: #7A4A00;"
            " border: 1px solid #F3C77A; border-radius: 4px; padding: 6px 8px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self._tree, 1)
        layout.addWidget(self._count)
        layout.addWidget(self._warning)
        self._no_data = NoDataBanner()
        self._no_data.demoRequested.connect(self.demoRequested)
        self._no_data.dataFolderRequested.connect(self.dataFolderRequested)
        self._no_data.addRequested.connect(self.addRequested)
        layout.addWidget(self._no_data)
        self._problems = QLabel()
        never_widens(self._problems)
        self._problems.setStyleSheet(f"color: {RED};")
        self._problems.hide()
        layout.addWidget(self._problems)

    def has_real_data(self) -> bool:
        """Whether any task that is not a synthetic demo can be checked."""
        return any(self.is_checkable(n) and not self._catalog[n].is_synthetic for n in self._items)

    def _populate(self) -> None:
        """(Re)build the tree from the catalog and availability; nothing checked."""
        self._busy = True
        self._tree.clear()
        self._families.clear()
        self._items.clear()
        for family in GROUPS:
            names = [n for n, s in self._catalog.items() if group(s) == family]
            if not names:
                continue
            self._families[family] = top = family_item(self._tree, family)
            for name in names:
                self._items[name] = task_item(
                    top, name, self._catalog[name], self._availability[name]
                )
        for name in self._items:
            self._decorate(name)
        self._busy = False
        self.set_filter(self._search.text())
        self._refresh(emit=False)

    def _decorate(self, name: str) -> None:
        """Flags and tooltips from availability and the summarization switch."""
        item, spec, where = self._items[name], self._catalog[name], self._availability[name]
        blocked = self._summary_block if spec.family == "summarization" else None
        flags = item.flags() | CHECKABLE | Qt.ItemFlag.ItemIsSelectable
        item.setFlags(flags | ENABLED if self.is_checkable(name) else flags & ~ENABLED)
        tips = task_tooltips(spec, where)
        for column in range(len(COLUMNS)):
            item.setToolTip(column, blocked or tips.get(column, tips[TASK]))

    # -- state changes ------------------------------------------------------------------------

    def _visible_checkable(self) -> list[str]:
        return [n for n, i in self._items.items() if not i.isHidden() and self.is_checkable(n)]

    def _apply(self, states: Mapping[str, bool]) -> None:
        """Set several check states, then refresh and emit once."""
        self._busy = True
        for name, on in states.items():
            self._items[name].setCheckState(TASK, CHECKED if on else UNCHECKED)
        self._busy = False
        self._refresh()

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._busy or column != TASK:
            return
        key = item.data(TASK, NAME_ROLE)
        if key in self._families and self._families[key] is item:
            state = item.checkState(TASK)
            if state == self._family_states.get(key):
                return  # a tooltip or text changed, not the box
            # A click on a partly checked family checks it: a click means "family on/off".
            self.set_family_checked(key, state != UNCHECKED)
        else:
            self._refresh()

    def _refresh(self, emit: bool = True) -> None:
        """Family boxes and counts, the warning, the shares; emit if the checked set changed."""
        self._busy = True
        checked = self.checked()
        for family, top in self._families.items():
            kids = [n for n in self._items if group(self._catalog[n]) == family]
            on = sum(1 for n in kids if n in checked)
            usable = [n for n in kids if self.is_checkable(n)]
            top.setText(TASK, f"{FAMILY_TITLES.get(family, family)} ({on}/{len(kids)})")
            state = CHECKED if usable and on == len(usable) else UNCHECKED
            if 0 < on < len(usable):
                state = Qt.CheckState.PartiallyChecked
            top.setCheckState(TASK, state)
            self._family_states[family] = state
            top.setFlags(top.flags() | ENABLED if usable else top.flags() & ~ENABLED)
        self._busy = False
        count = len(checked)
        usable_total = sum(1 for n in self._items if self.is_checkable(n))
        self._count.setText(
            f"{count} task{'s' if count != 1 else ''} checked of {usable_total} available"
        )
        self._warning.setText(
            f"⚠ Only {count} task{'s' if count != 1 else ''} checked. The Muppet paper found that "
            f"pre-finetuning on fewer than ~{MIN_TASKS} tasks can hurt downstream performance; "
            "the gains grow with the number of tasks beyond that."
        )
        self._warning.setVisible(0 < count < MIN_TASKS)
        self._no_data.setVisible(not self.has_real_data())
        self._refresh_shares()
        if emit and checked != self._last:
            self._last = checked
            self.checkedChanged.emit(list(checked))

    def _refresh_shares(self) -> None:
        self.set_shares(compute_shares(self.checked(), self.sizes(), *self._sampling))

    def _on_current_changed(self, item: QTreeWidgetItem | None, *_: object) -> None:
        name = item.data(TASK, NAME_ROLE) if item is not None else None
        if name in self._items:
            self.taskSelected.emit(name)

    def _on_double_click(self, item: QTreeWidgetItem, column: int) -> None:
        name = item.data(TASK, NAME_ROLE)
        if name in self._items:
            self.previewRequested.emit(name)

    def _context_menu(self, pos: QPoint) -> None:
        item = self._tree.itemAt(pos)
        if item is None:
            return
        top = item.parent() or item
        family = top.data(TASK, NAME_ROLE)
        title = FAMILY_TITLES.get(family, family)
        menu = QMenu(self)
        name = item.data(TASK, NAME_ROLE)
        if name in self._items:
            menu.addAction(f"Show the data of {name}", lambda: self.previewRequested.emit(name))
        if name in self._items and removable(self._catalog[name]) is None:
            menu.addAction(f"Edit {name}…", lambda: self.editRequested.emit(name))
            menu.addAction(f"Remove {name}…", lambda: self.removeRequested.emit(name))
            menu.addSeparator()
        menu.addAction("Add task…", self.addRequested.emit)
        menu.addSeparator()
        menu.addAction(f"Check all of {title}", lambda: self.set_family_checked(family, True))
        menu.addAction(f"Uncheck all of {title}", lambda: self.set_family_checked(family, False))
        menu.addSeparator()
        menu.addAction("Check all tasks", self.select_all)
        menu.addAction("Uncheck all tasks", self.select_none)
        menu.exec(self._tree.viewport().mapToGlobal(pos))
