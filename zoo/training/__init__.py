"""Training loops: PTB language models (`ptb`), sentiment classifiers (`sentiment`), and their
shared pieces (`common`: checkpoints, JSON results, seeds, strategies)."""
