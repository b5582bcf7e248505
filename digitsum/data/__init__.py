"""Data: MNIST (vendored), the four-digit generator, other digit sources, course-format sets, the robustness suite."""
