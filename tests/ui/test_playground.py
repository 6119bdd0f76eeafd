"""The Playground tab: the inputs follow the chosen task's format, Predict asks for the typed
request, answers show each head's probabilities and a span marked in its context, and the
chosen run's most wrong validation examples are listed. The job's answer is faked here; the
job itself is tested through the CLI (tests/test_predict.py)."""

from __future__ import annotations

from pathlib import Path

from studio.core.jobs import HeadPrediction, PredictRequest, PredictResult
from studio.core.mistakes import Mistake, Mistakes, write_mistakes
from studio.core.paths import run_dir
from studio.core.tasks.spec import TaskSpec
from studio.store import RunStore
from studio.ui.jobs_controller import JobsController
from studio.ui.playground.actions import PlaygroundActions
from studio.ui.playground.view import PlaygroundView, answers_html
from tests.ui.helpers import state_for

FORMATS = {
    "synth_sentiment": "classification",
    "synth_pair": "pair_classification",
    "synth_choice": "multiple_choice",
    "synth_span": "extractive_qa",
}
CONTEXT = "The museum in Oslo opened in 1902."


def _pick(view: PlaygroundView, task: str) -> None:
    view.task.setCurrentIndex(view.task.findData(task))


def test_the_inputs_follow_the_tasks_format(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = PlaygroundView()
    qtbot.addWidget(view)
    view.set_tasks(FORMATS)
    visible = view.form.isRowVisible
    assert view.kind.isEnabled()  # every matching head: the user says what the input is
    _pick(view, "synth_choice")
    assert view.kind.currentData() == "choices" and not view.kind.isEnabled()
    assert visible(view.choices) and not visible(view.context) and not visible(view.text_pair)
    _pick(view, "synth_span")
    assert visible(view.context) and not visible(view.choices)
    _pick(view, "synth_pair")
    assert visible(view.text_pair) and not visible(view.context)


def test_predict_asks_for_the_typed_request(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = PlaygroundView()
    qtbot.addWidget(view)
    view.set_tasks(FORMATS)
    asked: list[PredictRequest] = []
    view.predictRequested.connect(asked.append)
    view.predict.click()
    assert asked == [] and view.status.text() == "Give a model first"
    view.set_model("/models/export")
    _pick(view, "synth_choice")
    view.text.setText("Which is a colour?")
    view.choices.setPlainText("red\n\n  blue \n")
    view.checkpoint.setCurrentText("latest")
    view.predict.click()
    assert asked == [
        PredictRequest(
            model="/models/export", text="Which is a colour?", choices=("red", "blue"),
            task="synth_choice", which="latest",
        )
    ]  # fmt: skip
    assert not view.predict.isEnabled()  # until the answer comes


def test_answers_show_probabilities_and_the_span_in_its_context(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = PlaygroundView()
    qtbot.addWidget(view)
    view.context.setPlainText(CONTEXT)
    result = PredictResult(
        "/models/export",
        (
            HeadPrediction("classification/synth_sentiment", ("synth_sentiment",),
                           "classification", "positive", (("positive", 0.8), ("negative", 0.2))),
            HeadPrediction("extractive_qa", ("synth_span",), "extractive_qa", "1902",
                           (("1902", 0.6), ("Oslo", 0.1)), span=(29, 33)),
        ),
    )  # fmt: skip
    view.set_busy(True)
    view.show_result(result)
    text = view.answers.toPlainText()
    assert "positive" in text and "0.800" in text and "0.200" in text
    assert "answer: 1902" in text and CONTEXT in text
    marked = answers_html(result.predictions, CONTEXT)
    assert "<span style='background:#ffe066'><b>1902</b></span>." in marked
    assert view.predict.isEnabled() and "answered by /models/export" in view.status.text()
    view.show_error("synth_choice is multiple_choice: give a question and --choices")
    assert "give a question" in view.answers.toPlainText()


def test_a_chosen_run_lists_its_tasks_and_most_wrong_examples(
    qtbot, tmp_path: Path, catalog: dict[str, TaskSpec]
) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "studio.db"
    with RunStore(db) as store:
        config = {"tasks": ["synth_sentiment", "synth_span", "synth_summary"]}
        run_id = store.create_run("tried", "pretrain", config, "tiny", status="finished")
    wrong = Mistake(3, {"text": "not good"}, "negative", "positive", 0.93)
    write_mistakes(run_dir(db, run_id), Mistakes(8, {"synth_sentiment": [wrong]}))
    state = state_for(db, catalog)
    view = PlaygroundView()
    qtbot.addWidget(view)
    actions = PlaygroundActions(state, JobsController(), view)
    assert view.model.findData(run_id) >= 0  # the finished run is offered
    view.set_model(run_id)
    names = [view.task.itemData(i) for i in range(view.task.count())]
    assert names == [None, "synth_sentiment", "synth_span"]  # summaries have no head
    assert view.mistakes.rowCount() == 1
    assert view.mistakes.item(0, 0).text() == "synth_sentiment: not good"
    assert [view.mistakes.item(0, c).text() for c in (1, 2, 3)] == ["negative", "positive", "0.930"]
    assert "update 8" in view.mistakes_title.text()
    _pick(view, "synth_span")  # the list follows the chosen task
    assert view.mistakes.rowCount() == 0
    _pick(view, "synth_sentiment")
    assert view.mistakes.rowCount() == 1
    actions.ended(None, "the model could not be loaded")
    assert "could not be loaded" in view.status.text()
