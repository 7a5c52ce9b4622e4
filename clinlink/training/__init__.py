"""Training of the linking models (bi-encoder, cross-encoder) from knowledge-base names."""
