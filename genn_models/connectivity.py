"""Sparse connectivity snippets (row by row: ``addSynapse(id_post)`` for each synapse of ``id_pre``)."""

from __future__ import annotations

from genn_models.base import SparseConnectivity

OneToOne = SparseConnectivity(
    "OneToOne",
    row_build_code="addSynapse(id_pre);",
    calc_max_row_len_func=lambda num_pre, num_post, pars: 1,
    calc_max_col_len_func=lambda num_pre, num_post, pars: 1,
)
"""Neuron i connects to neuron i."""

AllButSelf = SparseConnectivity(
    "AllButSelf",
    row_build_code="""
        for (unsigned int j = 0; j < num_post; j++) {
            if (j != id_pre) {
                addSynapse(j);
            }
        }
    """,
    calc_max_row_len_func=lambda num_pre, num_post, pars: num_post - 1,
    calc_max_col_len_func=lambda num_pre, num_post, pars: num_pre - 1,
)
"""Every neuron i connects to every neuron j != i (lateral inhibition)."""
