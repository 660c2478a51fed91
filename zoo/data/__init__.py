"""Datasets: PTB (`ptb`), IMDB (`imdb`), SST-2 (`sst2`), synthetic long-range tasks (`synthetic`).

Each loader takes `data_dir`, the dataset's own folder; when None it uses
`$ZOO_DATA_DIR/<ptb|imdb|sst>`, else `~/.cache/zoo/<name>` (see `zoo.data.download`).
"""
