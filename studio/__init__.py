"""Muppet Studio: multi-task pre-finetuning of shared encoders."""

__version__ = "0.1.0"
