"""Looking at a trained model: metrics, maps and filters, saliency, hardest examples, embeddings."""
