"""Tooltips of the Transfer tab's form, by widget attribute (the fine-tuning settings' help is
with their declarations: resources/settings_help.yaml)."""

TIPS = {
    "source_combo": "The pre-finetuned encoder to test: a finished or stopped pre-finetuning run"
    " of this store, or an exported folder (one with heads.json).",
    "checkpoint_combo": "Which checkpoint of the source run: the best by validation mean, or the"
    " latest.",
    "base_combo": "The plain model fine-tuned side by side with the pre-finetuned one; use the "
    "source's own base model, so the gain is the pre-finetuning's alone.",
    "filter_edit": "Show only targets whose name or title contains this text",
    "target_list": "Held-out tasks to fine-tune on. Tasks marked 'in mix' were part of the "
    "source's pre-finetuning: their results would be leaked, not transfer.",
    "sizes_edit": "Training-set sizes k sampled from each target's training set, separated by "
    "commas; 'all' uses the whole set. Small sizes show the sample-efficiency gain.",
    "seeds_edit": "Random seeds: each size is fine-tuned once per seed (another sample and "
    "initialisation); the plots show mean ± std over seeds.",
    "reuse_check": "Start a target's head from the pre-finetuned head of the same task or format"
    " when the source has one (the base model always starts from a fresh head).",
    "name_edit": "A name for the results list; empty names it after the source.",
    "run_button": "Fine-tune the base and the pre-finetuned model on every target × size × seed",
    "stop_button": "Stop after the current fine-tuning run; finished results stay stored",
}
