"""Model selection (paper Fig. 4): requirements in, a ranked and explained shortlist out."""
