"""The emotion vocabulary: each label placed on the valence/arousal circumplex.

Positions follow Russell's circumplex model of affect (Russell 1980; Posner, Russell & Peterson
2005) with Plutchik's eight basic emotions plus calm, love, awe, hope and neutral. Valence runs
-1 (unpleasant) .. 1 (pleasant), arousal 0 (sleepy) .. 1 (activated).

Each label also carries the bioluminescent emission it is anchored on (nanometres), see
`mural.engine.colour` for why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmotionAnchor:
    """Where one emotion label sits, and the light it is painted with."""

    name: str
    valence: float
    arousal: float
    wavelength_nm: float
    light_source: str


EMOTIONS: dict[str, EmotionAnchor] = {
    a.name: a
    for a in (
        # Plutchik's eight
        EmotionAnchor("joy", 0.80, 0.65, 560.0, "firefly yellow-green (Photinus pyralis, ~560 nm)"),
        EmotionAnchor("trust", 0.60, 0.35, 495.0, "milky-sea cyan between dinoflagellate and GFP"),
        EmotionAnchor("fear", -0.65, 0.80, 598.0, "firefly orange (Photuris, ~600 nm)"),
        EmotionAnchor("surprise", 0.15, 0.85, 568.0, "firefly yellow at the flash peak"),
        EmotionAnchor("sadness", -0.70, 0.20, 462.0, "deep dinoflagellate blue, at depth"),
        EmotionAnchor("disgust", -0.60, 0.50, 548.0, "murky fungal olive (Panellus)"),
        EmotionAnchor("anger", -0.70, 0.88, 622.0, "railroad-worm red (Phrixothrix, ~620 nm)"),
        EmotionAnchor("anticipation", 0.35, 0.60, 535.0, "fungal green turning firefly"),
        # the five additions
        EmotionAnchor("calm", 0.45, 0.10, 474.0, "dinoflagellate blue (Lingulodinium, ~474 nm)"),
        EmotionAnchor("love", 0.85, 0.50, 509.0, "GFP green (Aequorea victoria, ~509 nm)"),
        EmotionAnchor("awe", 0.55, 0.70, 500.0, "cyan-green of a milky sea"),
        EmotionAnchor("hope", 0.55, 0.45, 525.0, "fungal green (Mycena / Neonothopanus, ~525 nm)"),
        EmotionAnchor("neutral", 0.00, 0.30, 485.0, "pale sea glow"),
    )
}

EMOTION_NAMES: tuple[str, ...] = tuple(EMOTIONS)


def nearest_emotion(valence: float, arousal: float) -> str:
    """The label closest to a circumplex point (for summaries of valence/arousal events)."""
    return min(
        EMOTIONS.values(),
        key=lambda a: (a.valence - valence) ** 2 + (a.arousal - arousal) ** 2,
    ).name
