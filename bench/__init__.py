"""mxlite's throughput harness: init, zero_grad, save/load, replica reduce and optimizer steps."""
