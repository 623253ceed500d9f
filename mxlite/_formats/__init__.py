"""Persistence, apart from arrays: the file formats mxlite reads and writes.

``params`` (MXNet's ``.params`` layout: the one parser, with the index mode the lazy loader uses),
``safetensors``, ``npz``, the bounded binary reader every parser is built on (``_binio``: no size
is trusted before it is checked against the file), and crash-safe writing (``atomic_file``,
``_save_tmp``: a killed save never leaves a half-written file or a stray temporary behind).
``mx.nd.save``/``mx.nd.load`` (:mod:`mxlite.ndarray.serialization`) and the gluon loaders
dispatch here; nothing here ever unpickles.
"""
