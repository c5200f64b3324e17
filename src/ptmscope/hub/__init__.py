"""Talking to a Hugging Face-compatible hub: rate limits, the client the crawler uses, the replay server."""
