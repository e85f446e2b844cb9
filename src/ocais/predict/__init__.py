"""Predictors: the Predictor protocol, registry and built-in rankers."""
