"""Implementation of ``mx.init`` / ``mx.initializer``; import from :mod:`mxlite.initializer`.

Modules: ``base`` (InitDesc, Initializer, registry), ``_fill`` (in-place writes and counter-based
streams), ``random_inits`` (Uniform, Normal, Xavier, MSRAPrelu, Orthogonal), ``special`` (Zero,
One, Constant, Bilinear, LSTMBias), ``composite`` (Load, Mixed, FusedRNN), ``batched``
(``init_many`` for gluon).
"""
