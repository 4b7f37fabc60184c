"""Labelled sequences: sequence files (``.npz``, long CSV, UEA/UCR ``.ts``), padded batches and
the in-memory data module base that the synthetic tasks share."""
