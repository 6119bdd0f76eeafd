"""The Monitor's resource strip: what the running job's process uses of the machine.

The job process samples it every few seconds (studio.jobs.resources); the strip shows the last
sample and hides when the job ends, so a stale reading never passes for a live one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from studio.core.resources import GpuSample, ResourceSample
from studio.ui.style import AMBER, coloured

BUSY = 90.0  # percent of memory used from which a reading is shown in amber


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def cpu_text(sample: ResourceSample) -> str:
    return f"CPU {sample.cpu_percent:.0f}%"


def memory_text(sample: ResourceSample) -> str:
    return f"RAM {gib(sample.rss)}"


def gpu_text(gpu: GpuSample) -> str:
    busy = "" if gpu.utilization is None else f" {gpu.utilization:.0f}%"
    return f"GPU {gpu.index}{busy}, {gib(gpu.used)} / {gib(gpu.total)}"


def tooltip(sample: ResourceSample) -> str:
    lines = [
        f"CPU: {sample.cpu_percent:.0f}% of all {sample.cores} cores, by the training process "
        "and its workers",
        f"Memory: {gib(sample.rss)} resident of the machine's {gib(sample.memory_total)}",
    ]
    for gpu in sample.gpus:
        busy = "not known (no NVML)" if gpu.utilization is None else f"{gpu.utilization:.0f}%"
        lines.append(
            f"GPU {gpu.index} ({gpu.name}): busy {busy}; memory {gib(gpu.used)} used of "
            f"{gib(gpu.total)}, {gib(gpu.allocated)} by this run's tensors"
        )
    return "\n".join(lines)


class ResourceStrip(QWidget):
    """CPU, memory and each GPU of the running job, as a row of small labels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cpu = QLabel()
        self.memory = QLabel()
        self.memory.setTextFormat(Qt.TextFormat.RichText)
        self.gpus: list[QLabel] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.cpu)
        self._layout.addWidget(self.memory)
        self.sample: ResourceSample | None = None
        self.hide()  # until a job reports

    def show_sample(self, sample: ResourceSample) -> None:
        """Show the job's latest sample."""
        self.sample = sample
        self.cpu.setText(cpu_text(sample))
        memory = memory_text(sample)
        full = sample.rss >= BUSY / 100 * sample.memory_total
        self.memory.setText(coloured(memory, AMBER) if full else memory)
        while len(self.gpus) < len(sample.gpus):
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.RichText)
            self._layout.addWidget(label)
            self.gpus.append(label)
        for label, gpu in zip(self.gpus[: len(sample.gpus)], sample.gpus, strict=True):
            text = gpu_text(gpu)
            label.setText(coloured(text, AMBER) if gpu.used >= BUSY / 100 * gpu.total else text)
        for index, label in enumerate(self.gpus):
            label.setVisible(index < len(sample.gpus))
        self.setToolTip(tooltip(sample))
        self.show()

    def job_ended(self, *_: object) -> None:
        """Hide: the readings were the job's, which is gone (a slot for JobSlot.ended)."""
        self.sample = None
        self.hide()

    def texts(self) -> list[str]:
        """What the strip shows, label by label (for tests and screenshots)."""
        labels = [self.cpu, self.memory, *self.gpus]
        return [label.text() for label in labels if not label.isHidden()]
