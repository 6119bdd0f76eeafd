"""Pure-Python heart of the studio: configs, task specs, sampling and loss-scale math, metrics."""
