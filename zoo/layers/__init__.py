"""Recurrent layers and cells of the zoo (filled in by the foundation work)."""
