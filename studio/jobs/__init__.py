"""The window's long jobs (train, resume, transfer, export, previews) run in a child process.

Why a process and not only a thread: while a run starts, torch, transformers, the tokenizers
and scikit-learn hold the interpreter lock for up to ~350 ms at a time (imports, weight
loading, tokenization), which froze the window when they ran in its worker thread. In a child
process they cannot; a crash there (a segfault, running out of memory) cannot take the window
down either.

Protocol: the parent writes the job as one JSON line to the child's stdin and later `stop` to
ask it to save and stop; end of input (the window died) stops it too. The child writes one
JSON event per line to stdout: `created` (run_id), `progress` (fraction, message), `partial`
(value: a first part of the result), `resources` (every few seconds while a training job
runs: cpu_percent, cores, rss, memory_total and gpus, a list of index, name, utilization,
used, total and allocated; see studio.core.resources), and last `result` (value) or `error`
(message). Anything else it prints goes to stderr, which the parent quotes if the child dies
without a last event.

`client` is the parent's side and imports nothing heavy (the window uses it); `runners` is the
child's side; `python -m studio.jobs` starts a child, `python -m studio.jobs probe` prints the
device training would use.
"""
