"""The zoo's models: the PTB language model and the sentiment classifier."""

from zoo.models.classifier import SequencePooling, sentiment_classifier
from zoo.models.folding import fold_embedding
from zoo.models.language_model import (
    LanguageModel,
    inference_model,
    language_model,
    layer_widths,
    recurrent_layer,
)

__all__ = [
    "LanguageModel",
    "SequencePooling",
    "fold_embedding",
    "inference_model",
    "language_model",
    "layer_widths",
    "recurrent_layer",
    "sentiment_classifier",
]
