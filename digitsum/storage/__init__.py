"""Storage: checkpoints in Hugging Face layout, atomic writes, the labels database."""
