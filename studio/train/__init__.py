"""Training with torch, transformers, datasets and accelerate."""
