"""Capture conditions of each synthetic source: camera angle, lighting, background, blur and sensor noise."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Capture:
    """How a source's camera saw faces; `light` points from the face towards the light."""

    name: str
    light: tuple[float, float, float]
    ambient: float
    diffuse: float
    level: float
    background: float
    camera_yaw: float
    camera_pitch: float
    blur: float
    noise: float
    pose_sd: tuple[float, float, float]

    def to_dict(self) -> dict:
        """JSON-ready form for dataset.json."""
        return asdict(self)


CAPTURES: dict[str, Capture] = {
    # BP4D-like: frontal camera, key light from the upper left, clean sensor.
    "bp4d-synth": Capture(
        "bp4d-synth", (-0.35, -0.45, 0.82), 0.45, 0.62, 1.0, 0.32, 0.0, 0.0, 0.5, 2.0, (4.0, 3.0, 2.0)
    ),
    # DISFA-like: camera below and to the side, dimmer light from the right, softer and noisier video frames.
    "disfa-synth": Capture(
        "disfa-synth", (0.6, -0.1, 0.79), 0.36, 0.55, 0.88, 0.62, 6.0, -7.0, 0.9, 4.0, (3.0, 2.5, 1.5)
    ),
}
