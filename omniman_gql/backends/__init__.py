"""The shipped simple backends, so the hub runs standalone."""
