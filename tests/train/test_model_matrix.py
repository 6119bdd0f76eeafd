"""The support matrix: every architecture of tests/model_zoo.py through the studio's whole life
of a model, in this process — pre-finetuning on a mix of every format (classification, pairs,
multiple choice, span QA, regression; summarization for encoder-decoders), a stop at a
checkpoint, the resume, the export, loading the export with plain transformers, a transfer from
the export with the architecture's folder as base, and the probe.

The README's support table is rendered from MATRIX (tests/support_table.py); this module checks
every mode the table claims.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path

import pytest
import torch
import transformers

from studio.core.experiments.transfer import FinetuneSettings, TransferConfig
from studio.core.tasks.availability import resolve
from studio.core.tasks.spec import TaskSpec
from studio.core.tasks.synthetic import CITIES
from studio.experiments import transfer
from studio.session import execute, export_run, resume
from studio.store import RunStore
from studio.train.data.preview import first_batch
from studio.train.setup import Workspace
from tests.model_zoo import ARCHITECTURES, MATRIX, SEQ2SEQ, Row, make_model_folder, synthetic_texts
from tests.support import StopAt, tiny_config

pytestmark = pytest.mark.train

MIX = ("synth_sentiment", "synth_pair", "synth_choice", "synth_span", "synth_regression")
STEPS, STOP_AT = 4, 2
FAST = FinetuneSettings(
    learning_rate=1e-3, batch_size=8, epochs=1.0, min_steps=1, max_length=48,
    eval_max_examples=8, device="cpu", mixed_precision="no", num_threads=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every architecture's folder, built once (well under a second each)."""
    transformers.logging.disable_progress_bar()
    root = tmp_path_factory.mktemp("zoo")
    texts = synthetic_texts()
    return {arch: make_model_folder(arch, root / arch, texts) for arch in ARCHITECTURES}


def _pretrain(folder: str, arch: str, catalog: dict[str, TaskSpec], db: Path) -> str:
    """A stop at update STOP_AT, then the resume to STEPS; the run's id."""
    tasks = MIX + (("synth_summary",) if arch in SEQ2SEQ else ())  # span QA is in MIX
    config = tiny_config(
        folder, tasks, max_steps=STEPS, checkpoint_every=STOP_AT, eval_every=STEPS,
        batch_size=4, tasks_per_update=len(tasks), max_length=48, eval_max_examples=4,
        max_target_length=12, num_beams=1, num_threads=1,
    )  # fmt: skip
    stop = threading.Event()
    first = execute(config, catalog, None, db, stop, StopAt(stop, STOP_AT))
    assert (first.status, first.step) == ("stopped", STOP_AT), first
    second = resume(first.run_id, catalog, None, db, threading.Event())
    assert (second.status, second.step) == ("finished", STEPS), second
    with RunStore(db) as store:
        rows = store.metrics_after(0, first.run_id)
    losses = [r["value"] for r in rows if r["name"] == "total_loss"]
    assert len(losses) == STEPS and all(torch.isfinite(torch.tensor(losses)))
    return first.run_id


def _load_plainly(export: Path, arch: str) -> None:
    """The export with AutoModel (or its LM) and AutoTokenizer alone, a pair through both."""
    seq2seq = arch in SEQ2SEQ
    cls = transformers.AutoModelForSeq2SeqLM if seq2seq else transformers.AutoModel
    model = cls.from_pretrained(export).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(export)
    assert tokenizer.is_fast, type(tokenizer)
    enc = tokenizer(["Alice lives in Lisbon."], ["Where does Alice live?"], return_tensors="pt")
    named = inspect.signature(model.forward).parameters
    inputs = {k: v for k, v in enc.items() if k in named}
    if seq2seq:
        inputs["decoder_input_ids"] = enc["input_ids"][:, :2]
    with torch.no_grad():
        out = model(**inputs)
    assert torch.isfinite(out[0]).all()


def _transfer(export: Path, folder: str, catalog: dict[str, TaskSpec], db: Path) -> None:
    """Fine-tuning on a held-out classification target, then the probe on span QA."""
    for target, probe in (("synth_topic", False), ("synth_span", True)):
        settings = FinetuneSettings(**{**FAST.__dict__, "probe": probe})
        config = TransferConfig(
            source=str(export), targets=(target,), base_model=folder, sizes=(8,), seeds=(0,),
            settings=settings,
        )  # fmt: skip
        transfer_id = transfer(config, catalog, None, db, threading.Event())
        with RunStore(db) as store:
            assert store.get_run(transfer_id).status == "finished"
            results = store.results(transfer_id)
        assert {r.model for r in results} == {"base", "pretuned"}


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.arch)
def test_architecture_through_every_mode(
    row: Row, zoo: dict[str, str], catalog: dict[str, TaskSpec], tmp_path: Path
) -> None:
    """Every mode the README's table claims for the row: pretrain (span QA in its mix, and
    summarization for an encoder-decoder), resume, export, load, then transfer and probe."""
    db = tmp_path / "studio.db"
    run_id = _pretrain(zoo[row.arch], row.arch, catalog, db)
    export = export_run(db, run_id, "latest", tmp_path / "export")
    _load_plainly(export, row.arch)
    assert ("transfer" in row.modes) == ("probe" in row.modes) == (row.arch not in SEQ2SEQ)
    if "transfer" in row.modes:
        _transfer(export, zoo[row.arch], catalog, db)


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.arch)
def test_the_data_view_shows_a_span_batch_through_each_tokenizer(
    row: Row, zoo: dict[str, str], workspace: Workspace
) -> None:
    """What the window's Data view shows for the architecture's folder: the span task's first
    batch in that tokenizer's tokens, the answer found through its offsets."""
    spec = workspace.catalog["synth_span"]
    where = resolve(spec, workspace.data_dir, workspace.synthetic_root)
    config = tiny_config(zoo[row.arch], ("synth_span",), batch_size=4, max_length=48)
    batch = first_batch(spec, where, config, workspace)
    assert batch["max_length"] == 48 and len(batch["examples"]) == 4
    for example in batch["examples"]:
        answer = "".join(example["label"].split()).lower()
        assert any(city.lower() in answer for city in CITIES), example["label"]
