"""Datasets: PTB, IMDB, SST-2 and synthetic long-range tasks."""
