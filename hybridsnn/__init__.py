"""hybridsnn: five brain-inspired spiking-network learning systems behind one command line.

The STDP-style systems are GeNN neuron/weight-update models (``genn_models``) run by PyGeNN or by the
embedded numba engine (``hybridsnn.sim``); the gradient-trained systems use the torch spiking core
(``hybridsnn.spiking``). All of them share the dataset layer (``hybridsnn.data``) and the results and
checkpoint format (``hybridsnn.results``, ``hybridsnn.checkpoint``).
"""

__version__ = "0.1.0"
