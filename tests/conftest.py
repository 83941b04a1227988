"""Shared test settings: implicit rank promotion is an error (the classic silent-broadcast bug)."""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
