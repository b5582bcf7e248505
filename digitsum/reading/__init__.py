"""Reading one image: preprocessing, prediction, the exact sum distribution, batching."""
