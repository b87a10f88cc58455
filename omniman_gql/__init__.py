"""Omniman GQL: a headless, omnichannel order hub."""

__version__ = "0.1.0"
