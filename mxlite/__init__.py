from mxlite.context import Context, cpu, cpu_pinned, current_context, gpu  # noqa: F401
