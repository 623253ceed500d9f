"""The CPU twins of the CUDA kernels: Numba ``@njit(cache=True)`` code, one module per kernel
family, with the same public launcher names and leading arguments as :mod:`mxlite.ops._cuda`
(listed once in :mod:`mxlite.ops._launchers`; ``tests/ops/test_kernel_twins.py`` checks it):

========================  ==========================  ============================
family                    twin module                 launchers (also in ``_cuda``)
========================  ==========================  ============================
counter-based fills       :mod:`.fill`                ``fill_uniform``, ``fill_normal``,
                                                      ``fill_constant``, ``multi_fill_*``,
                                                      ``philox4x32``
zero / replica average    :mod:`.multi_tensor`        ``multi_zero_bytes``, ``multi_average``
fused SGD / NAG / Adam    :mod:`.optimizer`           ``multi_optimizer_step``
========================  ==========================  ============================

Host-only options come after the shared arguments, keyword-only (``big_enough``,
``min_threads``: whether the parallel kernel is worth waking the thread pool for). Each parallel
kernel has a ``*_serial`` copy with the same loop: Numba cannot cache kernels made by a factory,
so the two forms are written out; every parallel launch goes through
:func:`mxlite._threads.launch`, which picks the form and serializes parallel launches.
``_primitives`` holds what the twins share (pointers, float16 rounding, Philox, Box-Muller).

Nothing here is imported by ``import mxlite``: the fronts import a twin at its first call.
"""
