"""The window's long jobs (train, resume, transfer, export, previews) run in a child process.

Why a process and not only a thread: while a run starts, torch, transformers, the tokenizers
and scikit-learn hold the interpreter lock for up to ~350 ms at a time (imports, weight
loading, tokenization), which froze the window when they ran in its worker thread. In a child
process they cannot; a crash there (a segfault, running out of memory) cannot take the window
down either.

Protocol (typed: studio.core.jobs and studio.core.job_events, written and read as JSON by
studio.core.wire here and nowhere else): the parent writes the `Job` (a request of the kind's
type and the `Place` of its tasks, data and store) as one JSON line to the child's stdin and
later `stop` to ask it to save and stop; end of input (the window died) stops it too. The
child writes one event per line to stdout: `Created`, `Progress`, `Partial` (a first part of
the result), `Resources` (every few seconds while a training job runs; see
studio.core.resources), and last `Finished` (a result of the request's `Result` type) or
`Failed` (a message). Anything else it prints goes to stderr, which the parent quotes if the
child dies without a last event.

`client` is the parent's side and imports nothing heavy (the window uses it); `runners` is the
child's main loop, `operations` the one table of use cases (the command line's too), `context`
what they work with; `python -m studio.jobs` starts a child, `python -m studio.jobs probe`
prints the device training would use.
"""
