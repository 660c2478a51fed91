"""The zoo's models: the PTB language model and the sentiment classifier."""

from zoo.models.classifier import SequencePooling, sentiment_classifier
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
    "inference_model",
    "language_model",
    "layer_widths",
    "recurrent_layer",
    "sentiment_classifier",
]
