"""Tooltips of the Transfer tab's form, by widget attribute."""

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
    "lr_spin": "Peak learning rate of every fine-tuning run (linear warm-up and decay); 1e-4 "
    "suits MiniLM, models of BERT-base size and up usually want 1e-5 to 3e-5.",
    "batch_spin": "Examples per optimizer update.",
    "epochs_spin": "Passes over the k training examples (a few updates are always made).",
    "length_spin": "Longest input in tokens; longer ones are truncated (MRC: split in windows).",
    "eval_spin": "Validation examples scored per run; 0 scores the full validation split.",
    "mode_combo": "Fine-tune: every weight trains. Probe: the encoder stays frozen and only the "
    "head trains, on features computed once: cheap enough for many seeds, and the standard "
    "low-variance reading of how good an encoder's representations are.",
    "pooling_combo": "What the heads read: the first token (RoBERTa's head) or the mean of the "
    "tokens (how sentence-transformers models such as MiniLM were trained). Use the pooling the "
    "source was pre-finetuned with when reusing its heads.",
    "probe_lr_spin": "Learning rate of the head in probe mode (the encoder is frozen).",
    "min_steps_spin": "The fewest updates any run makes: at small k a few epochs are only a "
    "handful of updates, too few to move off the majority label.",
    "device_combo": "Where to fine-tune: auto picks CUDA, then Apple MPS, then the CPU.",
    "name_edit": "A name for the results list; empty names it after the source.",
    "run_button": "Fine-tune the base and the pre-finetuned model on every target × size × seed",
    "stop_button": "Stop after the current fine-tuning run; finished results stay stored",
}
