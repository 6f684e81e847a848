"""Languages for synthetic examples, their sampling weights and their writing systems.

The paper samples the output language of each example from the XLM-R language list, giving more
weight to high-resource languages. ``PAPER_LANGUAGES`` is that list without XLM-R's romanised and
font variants, with Chinese counted once: 93 languages.
"""

from __future__ import annotations

HIGH_RESOURCE = (
    "Chinese",
    "Spanish",
    "French",
    "German",
    "Japanese",
    "Russian",
    "Portuguese",
    "Italian",
    "Korean",
    "Arabic",
    "Dutch",
    "Polish",
    "Turkish",
    "Vietnamese",
    "Indonesian",
    "Hindi",
    "Persian",
    "Swedish",
    "Czech",
    "Thai",
)

PAPER_LANGUAGES = (
    "Afrikaans",
    "Albanian",
    "Amharic",
    "Arabic",
    "Armenian",
    "Assamese",
    "Azerbaijani",
    "Basque",
    "Belarusian",
    "Bengali",
    "Bosnian",
    "Breton",
    "Bulgarian",
    "Burmese",
    "Catalan",
    "Chinese",
    "Croatian",
    "Czech",
    "Danish",
    "Dutch",
    "English",
    "Esperanto",
    "Estonian",
    "Filipino",
    "Finnish",
    "French",
    "Galician",
    "Georgian",
    "German",
    "Greek",
    "Gujarati",
    "Hausa",
    "Hebrew",
    "Hindi",
    "Hungarian",
    "Icelandic",
    "Indonesian",
    "Irish",
    "Italian",
    "Japanese",
    "Javanese",
    "Kannada",
    "Kazakh",
    "Khmer",
    "Korean",
    "Kurdish",
    "Kyrgyz",
    "Lao",
    "Latin",
    "Latvian",
    "Lithuanian",
    "Macedonian",
    "Malagasy",
    "Malay",
    "Malayalam",
    "Marathi",
    "Mongolian",
    "Nepali",
    "Norwegian",
    "Oriya",
    "Oromo",
    "Pashto",
    "Persian",
    "Polish",
    "Portuguese",
    "Punjabi",
    "Romanian",
    "Russian",
    "Sanskrit",
    "Scottish Gaelic",
    "Serbian",
    "Sindhi",
    "Sinhala",
    "Slovak",
    "Slovenian",
    "Somali",
    "Spanish",
    "Sundanese",
    "Swahili",
    "Swedish",
    "Tamil",
    "Telugu",
    "Thai",
    "Turkish",
    "Ukrainian",
    "Urdu",
    "Uyghur",
    "Uzbek",
    "Vietnamese",
    "Welsh",
    "Western Frisian",
    "Xhosa",
    "Yiddish",
)

# Unicode scripts (``regex`` \p{...} names) of the languages not written in Latin script.
SCRIPTS = {
    **dict.fromkeys(("Arabic", "Persian", "Urdu", "Pashto", "Sindhi", "Uyghur"), "Arabic"),
    **dict.fromkeys(
        ("Russian", "Ukrainian", "Bulgarian", "Belarusian", "Macedonian", "Kazakh", "Kyrgyz", "Mongolian"),
        "Cyrillic",
    ),
    **dict.fromkeys(("Hindi", "Marathi", "Nepali", "Sanskrit"), "Devanagari"),
    **dict.fromkeys(("Bengali", "Assamese"), "Bengali"),
    **dict.fromkeys(("Hebrew", "Yiddish"), "Hebrew"),
    "Chinese": "Han",
    "Japanese": "Han|Hiragana|Katakana",
    "Korean": "Hangul",
    "Greek": "Greek",
    "Thai": "Thai",
    "Lao": "Lao",
    "Khmer": "Khmer",
    "Burmese": "Myanmar",
    "Georgian": "Georgian",
    "Armenian": "Armenian",
    "Amharic": "Ethiopic",
    "Gujarati": "Gujarati",
    "Punjabi": "Gurmukhi",
    "Oriya": "Oriya",
    "Tamil": "Tamil",
    "Telugu": "Telugu",
    "Kannada": "Kannada",
    "Malayalam": "Malayalam",
    "Sinhala": "Sinhala",
    "Serbian": "Cyrillic|Latin",
}

Weights = tuple[tuple[str, float], ...]

# English-heavy default: half the examples in English, the rest over the high-resource languages.
DEFAULT_WEIGHTS: Weights = (("English", 1.0),) + tuple((name, 0.05) for name in HIGH_RESOURCE)


def paper_weights(english: float = 20.0, high: float = 1.0, other: float = 0.25) -> Weights:
    """All 93 languages, weighted English > high-resource > the rest."""

    def weight(name: str) -> float:
        return english if name == "English" else high if name in HIGH_RESOURCE else other

    return tuple((name, weight(name)) for name in PAPER_LANGUAGES)


PRESETS = {"default": DEFAULT_WEIGHTS, "paper": paper_weights(), "en": (("English", 1.0),)}


def script_of(language: str) -> str:
    """The ``regex`` script pattern a language is written in (Latin unless listed)."""
    return SCRIPTS.get(language, "Latin")


def parse_languages(spec: str) -> Weights:
    """``"paper"``, ``"default"``, ``"en"`` or ``"English:0.7,German:0.3,French"`` (weight 1 when omitted)."""
    spec = spec.strip()
    if spec in PRESETS:
        return PRESETS[spec]
    known = {name.lower(): name for name in PAPER_LANGUAGES}
    weights = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, weight = item.partition(":")
        canonical = known.get(name.strip().lower())
        if canonical is None:
            raise ValueError(
                f"unknown language {name.strip()!r}; use names like English, German "
                f"(the paper's 93 languages) or a preset: {', '.join(PRESETS)}"
            )
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"language weight {weight!r} of {canonical} is not a number") from None
        weights.append((canonical, value))
    return validate_weights(tuple(weights))


def validate_weights(weights: Weights) -> Weights:
    if not weights:
        raise ValueError("at least one language is needed")
    if any(w < 0 for _, w in weights) or sum(w for _, w in weights) <= 0:
        raise ValueError("language weights must be non-negative with a positive sum")
    return weights
