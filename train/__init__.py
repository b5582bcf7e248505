"""Training of digitsum models: `python -m train --help`."""
