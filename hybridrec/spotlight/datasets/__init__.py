"""Spotlight's ``spotlight.datasets``: MovieLens, Goodbooks and Amazon read from local
copies (nothing is downloaded), and synthetic sequential data."""
