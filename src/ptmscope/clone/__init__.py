"""HFTorrent-style bare clones, commit histories and signatures, run as per-repo units on an executor."""
