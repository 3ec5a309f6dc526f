"""OpenVINO networks compiled for static input shapes, and the CPU settings both networks share.

The detector and the embedder each keep one network compiled per input shape they meet (a
video's frame size; a frame's number of crops): a static shape compiles to faster kernels than a
dynamic one, which re-prepares its kernels whenever the shape changes from one call to the next.
"""

from __future__ import annotations


def cpu_config(precision: str, threads: int | None) -> dict[str, object]:
    """Compile settings: `precision` "auto" leaves the runtime's choice (bfloat16 where the CPU has
    it); `threads` None lets OpenVINO use every core."""
    # Unpinned threads: the detector's and the embedder's networks run at the same time (the
    # pipeline's overlapped stages), and two networks pinned to the same cores wait on each other;
    # unpinned, 300 frames of vtest.avi ran about 10% faster (docs/performance.md).
    config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
    if precision != "auto":
        config["INFERENCE_PRECISION_HINT"] = precision
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


class RequestPerShape:
    """An infer request of `network` for each input shape asked for, compiled on first use."""

    def __init__(self, core: object, network: object, config: dict[str, object]) -> None:
        self._core = core
        self._network = network
        self._config = config
        # Each compiled model is kept with its request: a request outliving it fails at random.
        self._compiled: dict[tuple[int, ...], object] = {}
        self._requests: dict[tuple[int, ...], object] = {}

    def __call__(self, shape: tuple[int, ...]):  # -> openvino.InferRequest
        request = self._requests.get(shape)
        if request is None:
            network = self._network.clone()  # type: ignore[attr-defined]
            network.reshape(list(shape))
            compiled = self._compiled[shape] = self._core.compile_model(network, "CPU", self._config)  # type: ignore[attr-defined]
            request = self._requests[shape] = compiled.create_infer_request()
        return request
