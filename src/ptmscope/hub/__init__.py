"""Talking to a Hugging Face-compatible hub: rate limits, the client the crawler uses, the replay server."""

DEFAULT_ENDPOINT = "https://huggingface.co"
"""The real Hub: every command's default endpoint (``--endpoint`` / ``HF_ENDPOINT`` change it)."""
