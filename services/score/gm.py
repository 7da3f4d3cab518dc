"""General MIDI tables: program names, families, percussion keys, and the names people type.

The interpreter reads instrument words in prompts with these tables, and the notes
backend reads an LLM's score ("program": "rhodes", "drum": "closed hihat") with the
same lookups, so both understand an instrument the same way.
"""

from __future__ import annotations

import re

from pretty_midi import constants as pretty_midi

# pretty_midi carries the General MIDI tables; where its spelling differs from the MMA's GM Level 1
# sound set (the names Discord users and LLMs see in our replies), the MMA name wins.
_MMA_PROGRAM_NAMES = {
    7: "clavi", 50: "synthstrings 1", 51: "synthstrings 2", 54: "synth voice", 62: "synthbrass 1",
    63: "synthbrass 2", 83: "lead 4 (chiff)", 109: "bag pipe",
}  # fmt: skip
_MMA_DRUM_NAMES = {42: "closed hi-hat", 44: "pedal hi-hat", 46: "open hi-hat"}

# The 128 General MIDI Level 1 program names, lowercase, indexed by program 0–127.
PROGRAM_NAMES: tuple[str, ...] = tuple(
    _MMA_PROGRAM_NAMES.get(program, name.lower()) for program, name in enumerate(pretty_midi.INSTRUMENT_MAP)
)

# The 16 program families of eight programs each, in order (program // 8 indexes this).
FAMILIES: tuple[str, ...] = tuple(family.lower() for family in pretty_midi.INSTRUMENT_CLASSES)

# What people (and LLMs) type for an instrument, mapped to the program that plays it best.
PROGRAM_ALIASES: dict[str, int] = {
    # pianos and keys
    "piano": 0, "grand piano": 0, "acoustic piano": 0, "concert piano": 0, "grand": 0, "keys": 0,
    "felt piano": 0, "soft piano": 0, "classical piano": 0, "jazz piano": 0,
    "bright piano": 1, "upright piano": 1, "pop piano": 1,
    "electric grand": 2, "cp70": 2, "cp 70": 2, "yamaha cp70": 2,
    "honky tonk": 3, "honky tonk piano": 3, "saloon piano": 3, "ragtime piano": 3, "tack piano": 3,
    "electric piano": 4, "e piano": 4, "epiano": 4, "rhodes": 4, "fender rhodes": 4, "rhodes piano": 4,
    "wurlitzer": 4, "wurli": 4, "ep": 4,
    "dx7": 5, "fm piano": 5, "dx piano": 5, "electric piano 2": 5,
    "harpsichord": 6, "clavinet": 7, "clav": 7, "clavi": 7,
    # chromatic percussion
    "celesta": 8, "celeste": 8, "glockenspiel": 9, "glock": 9, "music box": 10, "musicbox": 10,
    "vibraphone": 11, "vibes": 11, "vibraharp": 11, "marimba": 12, "xylophone": 13,
    "tubular bells": 14, "chimes": 14, "bells": 14, "church bells": 14, "bell": 14,
    "dulcimer": 15, "hammered dulcimer": 15, "santoor": 15, "cimbalom": 15,
    # organs
    "organ": 16, "hammond": 16, "hammond organ": 16, "b3": 16, "b 3": 16, "drawbar": 16, "jazz organ": 16,
    "percussive organ": 17, "rock organ": 18, "church organ": 19, "pipe organ": 19, "cathedral organ": 19,
    "reed organ": 20, "harmonium": 20, "pump organ": 20, "accordion": 21, "accordian": 21,
    "harmonica": 22, "blues harp": 22, "mouth organ": 22, "tango accordion": 23, "bandoneon": 23,
    # guitars
    "guitar": 25, "acoustic guitar": 25, "steel guitar": 25, "steel string guitar": 25, "folk guitar": 25,
    "nylon guitar": 24, "nylon string guitar": 24, "classical guitar": 24, "spanish guitar": 24,
    "flamenco guitar": 24, "bossa guitar": 24,
    "jazz guitar": 26, "hollow body guitar": 26, "hollowbody guitar": 26,
    "electric guitar": 27, "clean guitar": 27, "clean electric guitar": 27, "strat": 27,
    "muted guitar": 28, "palm muted guitar": 28, "funk guitar": 28,
    "overdriven guitar": 29, "overdrive guitar": 29, "crunchy guitar": 29, "crunch guitar": 29,
    "distortion guitar": 30, "distorted guitar": 30, "heavy guitar": 30, "metal guitar": 30,
    "rock guitar": 30, "power chords": 30, "guitar harmonics": 31, "harmonics": 31,
    # basses
    "upright bass": 32, "double bass": 32, "acoustic bass": 32, "jazz bass": 32, "standup bass": 32,
    "stand up bass": 32, "string bass": 32,
    "bass": 33, "bass guitar": 33, "electric bass": 33, "finger bass": 33, "fingered bass": 33,
    "bassline": 33, "bass line": 33,
    "picked bass": 34, "pick bass": 34, "rock bass": 34, "fretless bass": 35, "fretless": 35,
    "slap bass": 36, "funk bass": 36, "slap bass 2": 37,
    "synth bass": 38, "synthbass": 38, "808": 38, "808 bass": 38, "sub bass": 38, "subbass": 38,
    "acid bass": 38, "303": 38, "tb 303": 38, "moog bass": 39, "analog bass": 39, "reese bass": 39,
    "wobble bass": 39,
    # strings
    "violin": 40, "violins": 40, "viola": 41, "violas": 41, "cello": 42, "cellos": 42, "violoncello": 42,
    "contrabass": 43, "contrabasses": 43, "orchestral bass": 43,
    "tremolo strings": 44, "tremolo": 44, "pizzicato": 45, "pizzicato strings": 45, "pizz": 45,
    "harp": 46, "orchestral harp": 46, "concert harp": 46, "timpani": 47, "kettle drums": 47,
    # ensembles
    "strings": 48, "string section": 48, "string ensemble": 48, "orchestral strings": 48,
    "string quartet": 48, "string orchestra": 48, "lush strings": 48,
    "slow strings": 49, "synth strings": 50, "synthstrings": 50, "string synth": 50, "solina": 50,
    "choir": 52, "chorus": 52, "choral": 52, "voices": 52, "vocals": 52, "vocal": 52, "voice": 52,
    "singing": 52, "aahs": 52, "choir aahs": 52, "oohs": 53, "ooh": 53, "humming": 53, "hum": 53,
    "vocal oohs": 53, "synth voice": 54, "synth choir": 54, "vocoder": 54,
    "orchestra hit": 55, "orch hit": 55, "orchestral hit": 55, "stab": 55,
    # brass
    "trumpet": 56, "trumpets": 56, "cornet": 56, "flugelhorn": 56, "trombone": 57, "trombones": 57,
    "tuba": 58, "sousaphone": 58, "muted trumpet": 59, "harmon mute trumpet": 59,
    "french horn": 60, "horn": 60, "french horns": 60,
    "brass": 61, "brass section": 61, "horns": 61, "horn section": 61, "brass band": 61,
    "synth brass": 62, "synthbrass": 62, "brass synth": 62, "synth horns": 63,
    # reeds
    "soprano sax": 64, "soprano saxophone": 64, "sax": 65, "saxophone": 65, "alto sax": 65,
    "alto saxophone": 65, "tenor sax": 66, "tenor saxophone": 66, "jazz sax": 66,
    "baritone sax": 67, "bari sax": 67, "baritone saxophone": 67,
    "oboe": 68, "english horn": 69, "cor anglais": 69, "bassoon": 70, "clarinet": 71, "clarinets": 71,
    # pipes
    "piccolo": 72, "flute": 73, "flutes": 73, "concert flute": 73, "recorder": 74, "tin whistle": 74,
    "penny whistle": 74, "pan flute": 75, "panflute": 75, "pan pipes": 75, "panpipes": 75,
    "blown bottle": 76, "bottle": 76, "shakuhachi": 77, "bamboo flute": 77, "whistle": 78,
    "whistling": 78, "ocarina": 79,
    # synth leads
    "square": 80, "square lead": 80, "square wave": 80, "square wave lead": 80, "pulse wave": 80,
    "8 bit": 80, "8bit": 80, "chiptune": 80, "chip tune": 80, "chiptune lead": 80, "nes": 80,
    "gameboy": 80, "game boy": 80,
    "saw": 81, "sawtooth": 81, "saw lead": 81, "sawtooth lead": 81, "sawtooth wave": 81,
    "supersaw": 81, "synth lead": 81, "lead synth": 81, "synth": 81, "synthesizer": 81, "synths": 81,
    "calliope": 82, "chiff": 83, "chiff lead": 83, "charang": 84, "voice lead": 85, "vocal lead": 85,
    "fifths": 86, "fifths lead": 86, "bass and lead": 87, "bass lead": 87,
    # synth pads
    "pad": 89, "pads": 89, "synth pad": 89, "warm pad": 89, "analog pad": 89,
    "new age pad": 88, "fantasia": 88, "polysynth": 90, "poly synth": 90, "polysynth pad": 90,
    "choir pad": 91, "vocal pad": 91, "bowed pad": 92, "glass pad": 92, "metallic pad": 93,
    "halo pad": 94, "ambient pad": 94, "sweep pad": 95, "sweep": 95,
    # synth effects
    "rain fx": 96, "soundtrack fx": 97, "crystal": 98, "crystal fx": 98, "atmosphere fx": 99,
    "brightness fx": 100, "goblins": 101, "goblin fx": 101, "echoes": 102, "echo drops": 102,
    "sci fi": 103, "sci fi fx": 103,
    # ethnic
    "sitar": 104, "banjo": 105, "shamisen": 106, "koto": 107, "kalimba": 108, "mbira": 108,
    "thumb piano": 108, "bagpipe": 109, "bagpipes": 109, "bag pipes": 109, "fiddle": 110,
    "shehnai": 111, "shenai": 111, "tinkle bell": 112,
    # percussive (melodic percussion programs)
    "agogo bells": 113, "steel drums": 114, "steel drum": 114, "steel pan": 114, "steelpan": 114,
    "wood block": 115, "taiko": 116, "taiko drums": 116, "melodic toms": 117,
    "synth drums": 118, "electronic drum": 118, "reverse cymbal": 119, "cymbal swell": 119,
    # sound effects
    "fret noise": 120, "breath": 121, "ocean waves": 122, "ocean": 122, "waves": 122, "sea": 122,
    "birdsong": 123, "birds": 123, "bird song": 123, "birds chirping": 123, "telephone": 124,
    "phone ring": 124, "clapping": 126, "crowd applause": 126, "gun shot": 127,
}  # fmt: skip

# Aliases fine in a score's "program" field but not read as an instrument request in a prompt: too
# common in ordinary prose ("chill vibes", "waves of sound", "a grand day") or naming a style, not a part.
AMBIGUOUS_IN_PROSE: frozenset[str] = frozenset({
    "vibes", "grand", "keys", "waves", "sea", "ocean", "birds", "chorus", "square", "saw", "sweep",
    "crystal", "echoes", "breath", "bottle", "hum", "stab", "horn", "bell", "bells", "harmonics",
    "tremolo", "fifths", "ep", "nes", "8 bit", "8bit", "chiptune", "chip tune", "gameboy", "game boy",
    "808", "303", "b3", "b 3", "whistling", "singing", "voice", "vocal", "goblins", "sci fi", "strat",
    "fretless", "telephone", "clapping", "drawbar", "fantasia", "sousaphone", "power chords",
    "string quartet", "string orchestra", "brass band",  # ensembles a genre tag reads better
})  # fmt: skip

# General MIDI percussion key map (channel 10), keys 35–81, lowercase GM names.
DRUM_NAMES: dict[int, str] = {
    key: _MMA_DRUM_NAMES.get(key, name.lower()) for key, name in enumerate(pretty_midi.DRUM_MAP, start=35)
}

# What people (and LLMs) call drum sounds, mapped to the GM percussion key.
DRUM_ALIASES: dict[str, int] = {
    "kick": 36, "kick drum": 36, "bass drum": 36, "bd": 36, "kik": 36, "808 kick": 36, "bass drum 2": 35,
    "acoustic kick": 35, "low kick": 35, "deep kick": 35,
    "snare": 38, "snare drum": 38, "sd": 38, "acoustic snare drum": 38, "snare 2": 40, "electronic snare": 40,
    "electric snare drum": 40, "808 snare": 40, "trap snare": 40,
    "rim": 37, "rimshot": 37, "rim shot": 37, "rim click": 37, "sidestick": 37, "cross stick": 37,
    "crossstick": 37,
    "clap": 39, "claps": 39, "handclap": 39, "handclaps": 39, "hand claps": 39, "808 clap": 39,
    "hihat": 42, "hi hat": 42, "hat": 42, "hats": 42, "hh": 42, "chh": 42, "closed hat": 42,
    "closed hihat": 42, "closed hh": 42, "hihat closed": 42, "hi hat closed": 42, "808 hat": 42,
    "pedal hat": 44, "pedal hihat": 44, "foot hihat": 44, "foot hat": 44, "hihat pedal": 44, "phh": 44,
    "open hat": 46, "open hihat": 46, "ohh": 46, "oh": 46, "hihat open": 46, "hi hat open": 46,
    "floor tom": 41, "low floor tom": 41, "floor tom 2": 43, "high floor tom": 43,
    "low tom": 45, "tom low": 45, "mid tom": 47, "low mid tom": 47, "tom mid": 47,
    "hi mid tom": 48, "high mid tom": 48, "tom": 50, "toms": 50, "high tom": 50, "hi tom": 50, "tom high": 50,
    "crash": 49, "crash cymbal": 49, "crash 1": 49, "crash 2": 57, "cymbal": 49,
    "ride": 51, "ride cymbal": 51, "ride 1": 51, "ride 2": 59, "ride bell": 53, "bell of ride": 53,
    "china": 52, "china cymbal": 52, "splash": 55, "splash cymbal": 55,
    "tambourine": 54, "tamb": 54, "cowbell": 56, "cow bell": 56, "vibra slap": 58,
    "bongo": 60, "bongos": 60, "high bongo": 60, "low bongo": 61,
    "conga": 62, "congas": 62, "mute conga": 62, "high conga": 63, "open conga": 63, "low conga": 64,
    "timbale": 65, "timbales": 65, "high timbale": 65, "low timbale": 66,
    "agogo": 67, "high agogo": 67, "low agogo": 68,
    "shaker": 70, "shakers": 70, "maraca": 70,
    "whistle": 71, "short whistle": 71, "long whistle": 72,
    "guiro": 73, "short guiro": 73, "long guiro": 74, "clave": 75,
    "woodblock": 76, "wood block": 76, "high wood block": 76, "high woodblock": 76, "low woodblock": 77,
    "cuica": 78, "triangle": 81, "triangle open": 81, "triangle mute": 80, "muted triangle": 80,
}  # fmt: skip

_NUMBER_RE = re.compile(r"^(?:program|prog|patch|gm|pc)?\s*#?\s*([0-9]{1,3})$")  # ASCII digits only


def normalise_name(text: str) -> str:
    """Case, punctuation and spacing folded, so 'Hi-Hat', 'hi hat' and 'HiHat' compare equal."""
    text = text.lower().replace("&", " and ").replace("+", " and ")
    text = re.sub(r"[^a-z0-9#]+", " ", text).strip()
    return text.replace(" ", "")


def _build_index(exact: dict[int, str], aliases: dict[str, int]) -> dict[str, int]:
    index: dict[str, int] = {normalise_name(name): number for number, name in exact.items()}
    for alias, number in aliases.items():
        index.setdefault(normalise_name(alias), number)
    # "lead 1 (square)" is also reachable as "lead 1"; aliases win ("acoustic guitar" is steel, not nylon).
    for number, name in exact.items():
        if "(" in name:
            index.setdefault(normalise_name(name.split("(")[0]), number)
    return index


_PROGRAM_INDEX = _build_index(dict(enumerate(PROGRAM_NAMES)), PROGRAM_ALIASES)
_DRUM_INDEX = _build_index(DRUM_NAMES, DRUM_ALIASES)


def _lookup(index: dict[str, int], text: str) -> int | None:
    key = normalise_name(text)
    if not key:
        return None
    if key in index:
        return index[key]
    if key.endswith("s") and key[:-1] in index:  # plurals: "pianos", "kicks"
        return index[key[:-1]]
    return None


def program_for_name(text: str) -> int | None:
    """'Rhodes' → 4, 'lead 1 (square)' → 80, '42' → 42; None when it names no GM program."""
    number = _NUMBER_RE.match(text.strip().lower())
    if number and 0 <= int(number.group(1)) <= 127:
        return int(number.group(1))
    return _lookup(_PROGRAM_INDEX, text)  # "808", "303" are aliases, not program numbers


def program_name(program: int) -> str:
    """The lowercase GM name of a program 0–127. Raises ValueError outside that range."""
    if not 0 <= program <= 127:
        raise ValueError(f"GM program must be 0–127, got {program}")
    return PROGRAM_NAMES[program]


def program_family(program: int) -> str:
    """The GM family of a program: 42 → 'strings'."""
    program_name(program)  # validates the range
    return FAMILIES[program // 8]


def drum_key_for_name(text: str) -> int | None:
    """'kick' → 36, 'open hi-hat' → 46, '42' → 42; None when it names no GM percussion key."""
    number = _NUMBER_RE.match(text.strip().lower())
    if number and int(number.group(1)) in DRUM_NAMES:
        return int(number.group(1))
    return _lookup(_DRUM_INDEX, text)


def drum_name(key: int) -> str:
    """The lowercase GM name of a percussion key 35–81. Raises ValueError otherwise."""
    if key not in DRUM_NAMES:
        raise ValueError(f"GM percussion keys are 35–81, got {key}")
    return DRUM_NAMES[key]


def program_phrases() -> dict[str, int]:
    """Every instrument phrase worth spotting in prose (GM names and aliases, spaced form) → program."""
    phrases: dict[str, int] = {}
    for program, name in enumerate(PROGRAM_NAMES):
        spaced = re.sub(r"[^a-z0-9#]+", " ", name).strip()
        phrases.setdefault(spaced, program)
    for alias, program in PROGRAM_ALIASES.items():
        if alias not in AMBIGUOUS_IN_PROSE:
            phrases.setdefault(alias, program)
    return phrases
