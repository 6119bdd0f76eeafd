"""The preflight line under Start follows the draft, on every tab."""

from __future__ import annotations

from studio.core.config import presets
from studio.core.config.run import RunConfig


def test_the_line_follows_the_form_and_warns_of_a_gpu_plan_on_a_cpu(window) -> None:  # type: ignore[no-untyped-def]
    window.draft.apply(
        RunConfig(
            tasks=("synth_topic", "synth_pair"), max_steps=50, tasks_per_update=2, batch_size=4
        )  # fmt: skip
    )
    assert window.preflight.plan is not None
    assert "50 updates × 2 tasks × 4 examples = 400 examples" in window.preflight.text()
    window.form.fields["max_steps"].setValue(70)  # as typing it does
    assert "70 updates" in window.preflight.text()
    window.form.preset_bar.device = "cpu"
    window.form.apply_preset(presets.MUPPET)
    assert "sized for a GPU" in window.preflight.text()
    window.checklist.set_checked([])
    assert window.preflight.plan is None and "Not ready to start" in window.preflight.text()
    window.show_tab(window.runs)
    assert window.preflight.isVisible()  # under Start, whatever the tab
