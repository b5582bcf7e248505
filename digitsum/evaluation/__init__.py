"""Evaluation: scoring a set, analysis of errors, slices, the four-digit check's rates."""
