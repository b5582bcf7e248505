"""Models: the registry of named builders (net), the column reader, inference options."""
