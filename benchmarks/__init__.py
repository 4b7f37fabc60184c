"""Benchmarks: seqlstm against hand-written PyTorch, a bare Lightning loop and peer libraries.

Run ``python -m benchmarks`` for the list, ``python -m benchmarks NAME`` to run one; each
benchmark rewrites its own section of ``docs/benchmarks.md``.
"""
