"""The Ablation tab and its actions."""
