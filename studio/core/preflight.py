"""What Start would do, said before it is pressed: the planned updates and examples, and how
long they take on this device (a speed measured by an earlier run here, else a rough guess)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from studio.core.config.run import RunConfig
from studio.core.text import duration

# MiniLM's training examples/s at 128 tokens: a 2-core CPU (bench/throughput.py), an Apple
# GPU and a data-centre GPU, roughly. Only a guess until a run here measured its own.
ROUGH_SPEED = {"cpu": 150.0, "mps": 600.0, "cuda": 3000.0}
GUESS_LENGTH = 128
LARGER_MODEL = 0.15  # a base-sized encoder's speed against MiniLM's (12 layers of 768 vs 6 of 384)
LONG_ON_CPU = 4 * 3600.0  # seconds: more than this on a CPU gets a warning


@dataclass(frozen=True)
class Speed:
    """Training examples per second at `max_length` tokens, and where the number comes from."""

    examples_per_s: float
    max_length: int
    model: str
    measured_by: str | None = None  # the run that measured it; None: a guess


@dataclass(frozen=True)
class Preflight:
    text: str
    warning: str | None = None
    seconds: float = 0.0


def guessed_speed(device: str, model: str) -> Speed:
    """The rough speed of `model` on a device kind ('cpu', 'mps', 'cuda')."""
    rate = ROUGH_SPEED.get(device, ROUGH_SPEED["cpu"])
    small = "minilm" in model.lower()
    return Speed(rate if small else rate * LARGER_MODEL, GUESS_LENGTH, model)


def preflight(
    config: RunConfig, train_sizes: Mapping[str, int | None], device: str, speed: Speed
) -> Preflight:
    """The plan of `config` in one line, and a warning when it is far too long for a CPU."""
    per_update = config.tasks_per_update * config.batch_size
    examples = config.max_steps * per_update
    known = [train_sizes.get(t) for t in config.tasks]
    data = sum(n for n in known if n)
    text = (
        f"Plan: {config.max_steps:,} updates × {config.tasks_per_update} tasks × "
        f"{config.batch_size} examples = {examples:,} examples"
    )
    if data:
        passes = examples / data
        text += f" ({passes:,.0f} passes" if passes >= 10 else f" ({passes:.2g} passes"
        text += f" over {data:,})"
    # Time grows about linearly with the tokens per example at these lengths.
    rate = speed.examples_per_s * speed.max_length / config.max_length
    seconds = examples / rate
    source = f"at the speed run {speed.measured_by} measured" if speed.measured_by else "a guess"
    about = "under a second" if seconds < 1 else f"about {duration(seconds)}"  # not "about 0s"
    text += f" · {about} of training on this {device.upper()} ({source})"
    warning = None
    if device == "cpu" and seconds > LONG_ON_CPU:
        warning = (
            f"{config.max_steps:,} updates at {config.max_length} tokens is about "
            f"{duration(seconds)} on this CPU: that plan is sized for a GPU. The Quick look "
            "preset is sized for this computer; or lower Max steps and Max length."
        )
    return Preflight(text, warning, seconds)
