"""The documented tag vocabulary the styles interpreter maps prompts onto.

Every tag has a category (genre, mood, activity, instrument, era), the words and
phrases that name it, a one-sentence description (what the embedding model compares a
prompt with, so it is written to sound like the prompts that should land on it), and
what it implies musically. docs/styles-vocabulary.md is generated from this module
(`vocabulary_markdown()`), and a test keeps the two equal.

Drum style names (`Tag.drum_style`) are the families in `services/prompting/drum_styles.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.prompting.drum_styles import DRUM_STYLES
from services.score.gm import program_name

Category = Literal["genre", "mood", "activity", "instrument", "era"]
CATEGORIES: tuple[Category, ...] = ("genre", "mood", "activity", "instrument", "era")
ROLES: tuple[str, ...] = ("lead", "chords", "bass", "pad", "arp")


@dataclass(frozen=True)
class Tag:
    """One vocabulary tag and what it means for the music."""

    name: str  # the tag as shown to users: "lo-fi", "melancholic"
    category: Category  # genre, mood, activity (also places and times), instrument or era
    keywords: tuple[str, ...]  # words and phrases that name it in a prompt (matched whole-word, any case)
    description: str  # one sentence, compared with the prompt by meaning
    tempo: tuple[float, float] | None = None  # typical bpm range; arousal picks a point inside it
    valence: float | None = None  # -1 (sad, dark) … 1 (happy, bright); None: says nothing about mood
    arousal: float | None = None  # 0 (calm) … 1 (energetic); None: says nothing
    modes: tuple[str, ...] = ()  # preferred modes (theory.MODES names), most typical first
    instruments: tuple[tuple[str, int], ...] = ()  # (role, GM program) for lead/chords/bass/pad/arp
    drums: bool | None = None  # whether the style has drums; None: no opinion
    drum_style: str | None = None  # one of DRUM_STYLES when drums is True
    swing: float | None = None  # 0 straight … 0.33 triplet (0.5 max), the composer's scale; None: none
    metre: tuple[int, int] | None = None  # a metre the tag implies (waltz → 3/4); None: any
    suggests: tuple[str, ...] = ()  # genre tags this non-genre tag leans toward ("coffee" → jazz, bossa nova)

    def program_for(self, role: str) -> int | None:
        """The GM program this tag plays a role with, if it says."""
        return next((p for r, p in self.instruments if r == role), None)


def _parts(lead: int | None = None, chords: int | None = None, bass: int | None = None,
           pad: int | None = None, arp: int | None = None) -> tuple[tuple[str, int], ...]:  # fmt: skip
    roles = {"lead": lead, "chords": chords, "bass": bass, "pad": pad, "arp": arp}
    return tuple((role, program) for role, program in roles.items() if program is not None)


def _kw(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.split(",") if k.strip())


GENRES: tuple[Tag, ...] = (
    Tag(
        "lo-fi",
        "genre",
        _kw("lo-fi, lofi, lo fi, chillhop, chill hop, lofi hip hop, study beats, beats to study"),
        "Mellow lo-fi hip hop: dusty, warm beats with jazzy electric piano chords, vinyl crackle, "
        "for studying, "
        "rainy windows and late-night calm.",
        tempo=(70, 90),
        valence=-0.05,
        arousal=0.3,
        modes=("dorian", "minor", "major"),
        instruments=_parts(lead=4, chords=4, bass=32, pad=89),
        drums=True,
        drum_style="boom_bap",
        swing=0.1,
    ),
    Tag(
        "jazz",
        "genre",
        _kw("jazz, jazzy, bebop, bop, smooth jazz, jazz club, jazz trio, jazz quartet, cool jazz"),
        "Jazz in a small club or cafe: swinging ride cymbal, walking upright bass, piano comping and a "
        "saxophone melody, relaxed and sophisticated.",
        tempo=(90, 160),
        valence=0.15,
        arousal=0.45,
        modes=("dorian", "major", "mixolydian"),
        instruments=_parts(lead=66, chords=0, bass=32),
        drums=True,
        drum_style="jazz_swing",
        swing=0.3,
    ),
    Tag(
        "swing",
        "genre",
        _kw("swing, big band, swing band, lindy hop, jump blues"),
        "Big band swing from the dance halls: bright trumpets and saxophone sections over a swinging rhythm "
        "section, made for dancing.",
        tempo=(140, 200),
        valence=0.6,
        arousal=0.75,
        modes=("major", "mixolydian"),
        instruments=_parts(lead=56, chords=61, bass=32, pad=65),
        drums=True,
        drum_style="jazz_swing",
        swing=0.33,
    ),
    Tag(
        "blues",
        "genre",
        _kw("blues, bluesy, delta blues, 12 bar, twelve bar, chicago blues, blues rock"),
        "The blues: a twelve-bar shuffle with a crying electric guitar, bent notes, and a weary, "
        "soulful feel.",
        tempo=(70, 120),
        valence=-0.2,
        arousal=0.45,
        modes=("blues", "mixolydian", "minor pentatonic"),
        instruments=_parts(lead=29, chords=0, bass=33, pad=16),
        drums=True,
        drum_style="rock",
        swing=0.28,
    ),
    Tag(
        "rock",
        "genre",
        _kw(
            "rock, rock n roll, rock and roll, guitar rock, indie rock, alt rock, alternative, "
            "garage rock, grunge, classic rock, hard rock, indie"
        ),
        "Rock band with loud electric guitars, driving bass and a big backbeat on the drums.",
        tempo=(100, 150),
        valence=0.1,
        arousal=0.75,
        modes=("major", "minor", "mixolydian"),
        instruments=_parts(lead=30, chords=29, bass=34),
        drums=True,
        drum_style="rock",
        swing=0.0,
    ),
    Tag(
        "metal",
        "genre",
        _kw("metal, heavy metal, thrash, metalcore, djent, death metal, black metal, doom metal"),
        "Heavy metal: distorted palm-muted guitars, fast aggressive drums, dark and crushing riffs.",
        tempo=(120, 190),
        valence=-0.5,
        arousal=0.95,
        modes=("phrygian", "minor", "harmonic minor"),
        instruments=_parts(lead=30, chords=30, bass=34),
        drums=True,
        drum_style="rock",
        swing=0.0,
    ),
    Tag(
        "punk",
        "genre",
        _kw("punk, punk rock, pop punk, skate punk, hardcore punk"),
        "Fast, loud, three-chord punk rock with raw distorted guitars and frantic drums.",
        tempo=(150, 200),
        valence=0.1,
        arousal=0.95,
        modes=("major", "mixolydian"),
        instruments=_parts(lead=30, chords=30, bass=34),
        drums=True,
        drum_style="rock",
        swing=0.0,
    ),
    Tag(
        "pop",
        "genre",
        _kw("pop, pop song, catchy, radio hit, top 40, mainstream, k pop, kpop, j pop, jpop, bubblegum"),
        "A catchy, polished pop song with a bright hook, simple chords and a steady dance beat.",
        tempo=(96, 128),
        valence=0.45,
        arousal=0.6,
        modes=("major", "minor"),
        instruments=_parts(lead=81, chords=0, bass=38, pad=89),
        drums=True,
        drum_style="rock",
        swing=0.0,
    ),
    Tag(
        "synthpop",
        "genre",
        _kw("synthpop, synth pop, electropop, electro pop, new wave"),
        "Synth-pop: shiny analog synthesizers, drum machines and catchy melodies in the style of the "
        "eighties.",
        tempo=(110, 130),
        valence=0.35,
        arousal=0.65,
        modes=("major", "minor", "dorian"),
        instruments=_parts(lead=81, chords=90, bass=38, pad=89, arp=80),
        drums=True,
        drum_style="four_on_floor",
        swing=0.0,
    ),
    Tag(
        "synthwave",
        "genre",
        _kw("synthwave, retrowave, outrun, darksynth, vaporwave, vapor wave, retro synth"),
        "Synthwave: neon-lit retro-futurist synthesizers, pulsing arpeggios and gated drums, like "
        "driving at night "
        "through an eighties city.",
        tempo=(85, 118),
        valence=0.05,
        arousal=0.55,
        modes=("minor", "dorian"),
        instruments=_parts(lead=81, chords=90, bass=38, pad=95, arp=81),
        drums=True,
        drum_style="rock",
        swing=0.0,
    ),
    Tag(
        "city pop",
        "genre",
        _kw("city pop, citypop, japanese city pop, showa pop, japanese 80s pop"),
        "Japanese city pop: glossy eighties funk-pop with electric piano, slap bass, saxophone and "
        "neon Tokyo "
        "nights.",
        tempo=(95, 120),
        valence=0.4,
        arousal=0.55,
        modes=("major", "dorian"),
        instruments=_parts(lead=65, chords=5, bass=36, pad=50),
        drums=True,
        drum_style="rock",
        swing=0.03,
    ),
    Tag(
        "disco",
        "genre",
        _kw("disco, nu disco, nu-disco, boogie, studio 54"),
        "Disco: four-on-the-floor dance grooves with lush strings, funky guitar and a bouncing octave bass.",
        tempo=(110, 128),
        valence=0.65,
        arousal=0.8,
        modes=("major", "dorian", "minor"),
        instruments=_parts(lead=48, chords=28, bass=33, pad=49),
        drums=True,
        drum_style="four_on_floor",
        swing=0.0,
    ),
    Tag(
        "funk",
        "genre",
        _kw("funk, funky, groovy, groove, p funk, jazz funk"),
        "Funk: tight syncopated grooves, slap bass, clavinet stabs and punchy horns that make you move.",
        tempo=(95, 120),
        valence=0.55,
        arousal=0.75,
        modes=("dorian", "mixolydian"),
        instruments=_parts(lead=61, chords=7, bass=36),
        drums=True,
        drum_style="rock",
        swing=0.07,
    ),
    Tag(
        "r&b",
        "genre",
        _kw("r&b, rnb, r and b, rhythm and blues, soul, neo soul, motown, slow jam"),
        "Soul and R&B: smooth electric piano and organ chords, a warm bass, a laid-back groove and heartfelt "
        "melodies.",
        tempo=(68, 100),
        valence=0.25,
        arousal=0.4,
        modes=("dorian", "major", "minor"),
        instruments=_parts(lead=4, chords=16, bass=33, pad=48),
        drums=True,
        drum_style="boom_bap",
        swing=0.07,
    ),
    Tag(
        "gospel",
        "genre",
        _kw("gospel, spiritual, hymn, praise"),
        "Gospel: a joyful choir over Hammond organ and piano, rising with hope and praise.",
        tempo=(70, 110),
        valence=0.6,
        arousal=0.55,
        modes=("major", "mixolydian"),
        instruments=_parts(lead=52, chords=16, bass=33, pad=19),
        drums=True,
        drum_style="rock",
        swing=0.15,
    ),
    Tag(
        "house",
        "genre",
        _kw("house, deep house, tech house, piano house, garage house, chicago house"),
        "House music: a steady four-on-the-floor kick, off-beat hi-hats, piano stabs and a deep "
        "bassline for the "
        "club.",
        tempo=(118, 128),
        valence=0.4,
        arousal=0.75,
        modes=("minor", "dorian", "major"),
        instruments=_parts(lead=81, chords=0, bass=38, pad=89),
        drums=True,
        drum_style="four_on_floor",
        swing=0.03,
    ),
    Tag(
        "techno",
        "genre",
        _kw("techno, minimal techno, industrial techno, acid techno, berlin techno, acid"),
        "Techno: hypnotic, repetitive machine rhythms, dark synth stabs and an acid bassline in a "
        "warehouse rave.",
        tempo=(125, 140),
        valence=-0.2,
        arousal=0.8,
        modes=("minor", "phrygian"),
        instruments=_parts(lead=81, bass=38, pad=95, arp=81),
        drums=True,
        drum_style="four_on_floor",
        swing=0.0,
    ),
    Tag(
        "trance",
        "genre",
        _kw("trance, uplifting trance, psytrance, psy trance, progressive trance"),
        "Trance: soaring supersaw chords, rolling arpeggios and euphoric build-ups and drops.",
        tempo=(132, 142),
        valence=0.35,
        arousal=0.85,
        modes=("minor", "major"),
        instruments=_parts(lead=81, chords=90, bass=38, pad=89, arp=81),
        drums=True,
        drum_style="four_on_floor",
        swing=0.0,
    ),
    Tag(
        "edm",
        "genre",
        _kw("edm, electronic dance, dance music, big room, electro house, future bass, club banger"),
        "Big electronic dance music: festival synth leads, a pumping four-on-the-floor beat and huge drops.",
        tempo=(120, 130),
        valence=0.5,
        arousal=0.9,
        modes=("minor", "major"),
        instruments=_parts(lead=81, chords=90, bass=38, pad=89, arp=81),
        drums=True,
        drum_style="four_on_floor",
        swing=0.0,
    ),
    Tag(
        "drum and bass",
        "genre",
        _kw("drum and bass, drum n bass, drum & bass, dnb, d&b, jungle, liquid dnb, neurofunk"),
        "Drum and bass: fast breakbeats at a hundred and seventy-odd bpm under deep rolling sub bass "
        "and airy pads.",
        tempo=(165, 178),
        valence=0.0,
        arousal=0.85,
        modes=("minor", "dorian"),
        instruments=_parts(lead=81, chords=4, bass=39, pad=89),
        drums=True,
        drum_style="breakbeat",
        swing=0.0,
    ),
    Tag(
        "dubstep",
        "genre",
        _kw("dubstep, brostep, riddim, wobble"),
        "Dubstep: half-time heavy drums and growling wobble bass drops, dark and aggressive.",
        tempo=(138, 142),
        valence=-0.35,
        arousal=0.9,
        modes=("minor", "phrygian"),
        instruments=_parts(lead=81, bass=39, pad=95),
        drums=True,
        drum_style="trap",
        swing=0.0,
    ),
    Tag(
        "hip hop",
        "genre",
        _kw("hip hop, hiphop, rap, boom bap, beat tape, old school hip hop, instrumental hip hop"),
        "Hip hop beat: a head-nodding boom-bap drum loop, sampled piano or soul chords and a deep bass.",
        tempo=(82, 100),
        valence=0.0,
        arousal=0.55,
        modes=("minor", "dorian"),
        instruments=_parts(lead=0, chords=4, bass=33, pad=48),
        drums=True,
        drum_style="boom_bap",
        swing=0.1,
    ),
    Tag(
        "trap",
        "genre",
        _kw("trap, drill, 808s, trap beat, phonk"),
        "Trap: booming 808 bass, rapid hi-hat rolls, half-time snares and a dark bell or piano melody.",
        tempo=(130, 150),
        valence=-0.3,
        arousal=0.8,
        modes=("minor", "harmonic minor", "phrygian"),
        instruments=_parts(lead=10, chords=0, bass=38, pad=89),
        drums=True,
        drum_style="trap",
        swing=0.0,
    ),
    Tag(
        "trip hop",
        "genre",
        _kw("trip hop, trip-hop, downtempo, bristol sound"),
        "Trip hop: slow, smoky downtempo beats with moody bass, dusty samples and a cinematic, noir "
        "atmosphere.",
        tempo=(70, 95),
        valence=-0.3,
        arousal=0.35,
        modes=("minor", "dorian"),
        instruments=_parts(lead=4, chords=48, bass=33, pad=89),
        drums=True,
        drum_style="boom_bap",
        swing=0.05,
    ),
    Tag(
        "reggae",
        "genre",
        _kw("reggae, dub, ska, roots reggae, dancehall, rocksteady, jamaican"),
        "Reggae: a relaxed one-drop groove with off-beat guitar skanks, organ bubble and a round, "
        "heavy bass.",
        tempo=(70, 95),
        valence=0.5,
        arousal=0.45,
        modes=("major", "minor", "mixolydian"),
        instruments=_parts(lead=16, chords=27, bass=33),
        drums=True,
        drum_style="reggae",
        swing=0.05,
    ),
    Tag(
        "ambient",
        "genre",
        _kw("ambient, drone, soundscape, atmospheric, ambient music, dark ambient, new age"),
        "Ambient music: slow evolving synth pads and drones, no beat, spacious, floating and calm.",
        tempo=(60, 80),
        valence=0.05,
        arousal=0.1,
        modes=("lydian", "major", "minor"),
        instruments=_parts(lead=88, chords=94, pad=89),
        drums=False,
        drum_style="none",
        swing=0.0,
    ),
    Tag(
        "classical",
        "genre",
        _kw(
            "classical, orchestral, orchestra, symphony, symphonic, concerto, chamber music, "
            "sonata, string quartet, philharmonic"
        ),
        "Classical orchestral music: violins, cellos and a string section playing an elegant, "
        "developing melody.",
        tempo=(70, 130),
        valence=0.1,
        arousal=0.4,
        modes=("major", "minor", "harmonic minor"),
        instruments=_parts(lead=40, chords=48, bass=42),
        drums=False,
        drum_style="none",
        swing=0.0,
    ),
    Tag(
        "cinematic",
        "genre",
        _kw(
            "cinematic, film score, movie score, soundtrack, trailer music, epic orchestral, "
            "score, movie, film"
        ),
        "A cinematic film score: sweeping strings, noble French horns and choir building to a big "
        "emotional climax.",
        tempo=(70, 110),
        valence=0.0,
        arousal=0.6,
        modes=("minor", "major", "dorian"),
        instruments=_parts(lead=60, chords=48, bass=43, pad=52),
        drums=False,
        drum_style="none",
        swing=0.0,
    ),
    Tag(
        "piano ballad",
        "genre",
        _kw("ballad, piano ballad, power ballad, love song, torch song"),
        "A slow heartfelt ballad: expressive piano chords, a singing melody and soft strings.",
        tempo=(60, 80),
        valence=0.0,
        arousal=0.25,
        modes=("major", "minor"),
        instruments=_parts(lead=0, chords=0, bass=42, pad=48),
        drums=False,
        drum_style="none",
        swing=0.0,
    ),
    Tag(
        "lullaby",
        "genre",
        _kw("lullaby, lullabies, cradle song, nursery rhyme, berceuse"),
        "A gentle lullaby: a soft music box or harp melody, slow and tender, to fall asleep to.",
        tempo=(60, 76),
        valence=0.35,
        arousal=0.05,
        modes=("major",),
        instruments=_parts(lead=10, chords=46, pad=89),
        drums=False,
        drum_style="none",
        swing=0.0,
    ),
    Tag(
        "folk",
        "genre",
        _kw(
            "folk, folksy, acoustic folk, singer songwriter, americana, campfire, folk song, "
            "acoustic, unplugged"
        ),
        "Folk music: an acoustic guitar strumming simple chords with a fiddle or harmonica melody, warm and "
        "honest, around a campfire.",
        tempo=(80, 120),
        valence=0.2,
        arousal=0.4,
        modes=("major", "mixolydian", "dorian"),
        instruments=_parts(lead=110, chords=25, bass=32),
        drums=False,
        drum_style="none",
        swing=0.0,
    ),
    Tag(
        "celtic",
        "genre",
        _kw("celtic, irish, scottish, jig, reel, highland, gaelic"),
        "Celtic folk: a lilting tin whistle and fiddle dance tune over acoustic guitar, green hills "
        "and pubs.",
        tempo=(100, 130),
        valence=0.45,
        arousal=0.6,
        modes=("dorian", "mixolydian", "major"),
        instruments=_parts(lead=74, chords=25, bass=32, pad=109),
        drums=False,
        drum_style="none",
        swing=0.05,
    ),
    Tag(
        "country",
        "genre",
        _kw("country, bluegrass, honky tonk, western, cowboy, nashville, country music"),
        "Country and bluegrass: banjo picking, acoustic guitar and fiddle with a train-beat shuffle, "
        "wide open prairie.",
        tempo=(90, 130),
        valence=0.4,
        arousal=0.55,
        modes=("major", "mixolydian"),
        instruments=_parts(lead=105, chords=25, bass=32, pad=110),
        drums=True,
        drum_style="rock",
        swing=0.07,
    ),
    Tag(
        "bossa nova",
        "genre",
        _kw("bossa nova, bossa, samba, brazilian, mpb, ipanema"),
        "Bossa nova: soft nylon-string guitar chords, a gentle flute melody and a swaying Brazilian "
        "rhythm, like a "
        "seaside cafe.",
        tempo=(100, 130),
        valence=0.35,
        arousal=0.35,
        modes=("major", "dorian"),
        instruments=_parts(lead=73, chords=24, bass=32),
        drums=True,
        drum_style="bossa",
        swing=0.0,
    ),
    Tag(
        "latin",
        "genre",
        _kw("latin, salsa, cumbia, mambo, merengue, cha cha, rumba, son cubano, tango"),
        "Latin dance music: salsa piano montunos, bright trumpets and congas, hot and rhythmic.",
        tempo=(95, 125),
        valence=0.55,
        arousal=0.75,
        modes=("minor", "major"),
        instruments=_parts(lead=56, chords=0, bass=33),
        drums=True,
        drum_style="bossa",
        swing=0.0,
    ),
    Tag(
        "chiptune",
        "genre",
        _kw("chiptune, chip tune, 8 bit, 8bit, 16 bit, bitpop, nes, game boy, gameboy, chip music"),
        "Chiptune: bleepy 8-bit square-wave melodies and fast arpeggios, like an old video game console.",
        tempo=(120, 160),
        valence=0.5,
        arousal=0.75,
        modes=("major", "minor"),
        instruments=_parts(lead=80, bass=38, arp=80),
        drums=True,
        drum_style="chiptune",
        swing=0.0,
    ),
    Tag(
        "waltz",
        "genre",
        _kw("waltz, waltzes, valse, viennese waltz"),
        "A waltz in three-four time: an elegant ballroom dance with oom-pah-pah accompaniment.",
        tempo=(90, 150),
        valence=0.3,
        arousal=0.45,
        modes=("major", "minor"),
        instruments=_parts(lead=40, chords=0, bass=42),
        drums=True,
        drum_style="waltz",
        swing=0.0,
        metre=(3, 4),
    ),
    Tag(
        "march",
        "genre",
        _kw("march, marching band, military march, marching, parade"),
        "A march: brass band fanfares, tuba on the downbeat and crisp snare drum rudiments, proud "
        "and steady.",
        tempo=(100, 130),
        valence=0.4,
        arousal=0.7,
        modes=("major",),
        instruments=_parts(lead=56, chords=61, bass=58),
        drums=True,
        drum_style="march",
        swing=0.0,
    ),
)

MOODS: tuple[Tag, ...] = (
    Tag(
        "happy",
        "mood",
        _kw(
            "happy, joyful, cheerful, upbeat, sunny, fun, feel good, feelgood, glad, jolly, "
            "bright, joy, carefree"
        ),
        "Happy, joyful and cheerful, a bright feel-good tune that makes you smile.",
        valence=0.75,
        arousal=0.65,
        modes=("major",),
    ),
    Tag(
        "sad",
        "mood",
        _kw(
            "sad, sadness, sorrowful, sorrow, tearful, heartbroken, heartbreak, crying, grief, "
            "mourning, depressing, depressed, lonely, loneliness, tragic"
        ),
        "Sad and sorrowful, heartbroken, lonely tears and grief.",
        valence=-0.75,
        arousal=0.25,
        modes=("minor",),
    ),
    Tag(
        "melancholic",
        "mood",
        _kw(
            "melancholic, melancholy, wistful, bittersweet, longing, yearning, pensive, somber, sombre, moody"
        ),
        "Melancholic and wistful, bittersweet longing, watching the rain fall at night and remembering.",
        valence=-0.45,
        arousal=0.3,
        modes=("minor", "dorian"),
    ),
    Tag(
        "calm",
        "mood",
        _kw(
            "calm, peaceful, serene, tranquil, relaxing, relaxed, soothing, gentle, soft, quiet, "
            "restful, hushed"
        ),
        "Calm, peaceful and serene, soft and gentle music to relax to.",
        valence=0.3,
        arousal=0.12,
        modes=("major", "lydian"),
    ),
    Tag(
        "chill",
        "mood",
        _kw(
            "chill, chilled, chillout, chill out, laid back, laidback, mellow, easygoing, cozy, "
            "cosy, lazy, smooth, vibes"
        ),
        "Chill, mellow and laid back, cozy easygoing vibes for a lazy afternoon.",
        valence=0.25,
        arousal=0.3,
        modes=("dorian", "major"),
    ),
    Tag(
        "energetic",
        "mood",
        _kw(
            "energetic, energy, hype, hyped, intense, powerful, high energy, pumping, "
            "fast, explosive, adrenaline, banger"
        ),
        "Energetic and intense, high-energy pumping music full of adrenaline.",
        valence=0.3,
        arousal=0.92,
    ),
    Tag(
        "dark",
        "mood",
        _kw("dark, sinister, evil, ominous, brooding, gloomy, menacing, grim, villain, doom, shadowy"),
        "Dark, ominous and sinister, brooding menace in the shadows.",
        valence=-0.6,
        arousal=0.55,
        modes=("phrygian", "minor", "harmonic minor"),
    ),
    Tag(
        "romantic",
        "mood",
        _kw("romantic, romance, love, tender, sensual, intimate, passionate, valentine, in love, date night"),
        "Romantic and tender, an intimate love song for two.",
        valence=0.5,
        arousal=0.35,
        modes=("major",),
    ),
    Tag(
        "dreamy",
        "mood",
        _kw("dreamy, ethereal, floating, hazy, dreamlike, otherworldly, surreal, airy, shimmering, dream"),
        "Dreamy and ethereal, hazy floating shimmer like a half-remembered dream.",
        valence=0.2,
        arousal=0.22,
        modes=("lydian", "major"),
    ),
    Tag(
        "epic",
        "mood",
        _kw("epic, heroic, majestic, massive, anthemic, anthem, legendary, huge"),
        "Epic and heroic, a majestic anthem rising to a massive climax.",
        valence=0.3,
        arousal=0.85,
        modes=("minor", "major"),
    ),
    Tag(
        "mysterious",
        "mood",
        _kw("mysterious, mystery, enigmatic, mystical, secret, curious, unknown, magical, magic"),
        "Mysterious and enigmatic, a secret mystical puzzle waiting to be solved.",
        valence=-0.15,
        arousal=0.4,
        modes=("dorian", "harmonic minor", "phrygian"),
    ),
    Tag(
        "nostalgic",
        "mood",
        _kw("nostalgic, nostalgia, memories, memory, reminiscing, childhood, throwback, old days, remember"),
        "Nostalgic, warm childhood memories and throwbacks to the good old days.",
        valence=0.1,
        arousal=0.35,
        modes=("major", "dorian"),
    ),
    Tag(
        "tense",
        "mood",
        _kw(
            "tense, tension, suspense, suspenseful, anxious, anxiety, nervous, thriller, chase, urgent, panic"
        ),
        "Tense and suspenseful, an anxious thriller chase with rising tension.",
        valence=-0.4,
        arousal=0.75,
        modes=("phrygian", "harmonic minor", "minor"),
    ),
    Tag(
        "playful",
        "mood",
        _kw("playful, quirky, silly, whimsical, goofy, bouncy, cute, cartoon, funny, mischievous, kawaii"),
        "Playful and whimsical, a quirky bouncy cartoon tune that is cute and silly.",
        valence=0.6,
        arousal=0.65,
        modes=("major", "mixolydian"),
    ),
    Tag(
        "angry",
        "mood",
        _kw("angry, anger, aggressive, rage, furious, fierce, violent, brutal, hate"),
        "Angry and aggressive, furious rage and brutal force.",
        valence=-0.65,
        arousal=0.95,
        modes=("phrygian", "minor"),
    ),
    Tag(
        "hopeful",
        "mood",
        _kw(
            "hopeful, hope, uplifting, inspiring, optimistic, inspirational, motivational, "
            "encouraging, new beginning"
        ),
        "Hopeful and uplifting, an inspiring optimistic new beginning.",
        valence=0.6,
        arousal=0.55,
        modes=("major", "lydian"),
    ),
    Tag(
        "spooky",
        "mood",
        _kw("spooky, creepy, eerie, haunted, halloween, ghost, ghosts, horror, scary, witch"),
        "Spooky and eerie, a creepy haunted house on Halloween night.",
        valence=-0.45,
        arousal=0.45,
        modes=("harmonic minor", "locrian", "phrygian"),
    ),
    Tag(
        "triumphant",
        "mood",
        _kw("triumphant, victorious, victory, glorious, glory, celebration, celebratory, winning, champion"),
        "Triumphant and victorious, a glorious celebration of winning.",
        valence=0.8,
        arousal=0.85,
        modes=("major",),
    ),
)

ACTIVITIES: tuple[Tag, ...] = (
    Tag(
        "morning",
        "activity",
        _kw("morning, sunrise, dawn, breakfast, wake up, waking up"),
        "Morning: sunrise, a slow breakfast and waking up with fresh light through the window.",
        valence=0.4,
        arousal=0.4,
        modes=("major", "lydian"),
        suggests=("folk", "bossa nova", "jazz"),
    ),
    Tag(
        "night",
        "activity",
        _kw(
            "night, nighttime, midnight, late night, nocturnal, evening, after hours, 3am, "
            "tonight, moonlight, moonlit"
        ),
        "Night: the quiet hours after midnight, city lights and moonlight, alone with your thoughts.",
        valence=-0.1,
        arousal=0.3,
        modes=("minor", "dorian"),
        suggests=("lo-fi", "jazz", "synthwave"),
    ),
    Tag(
        "rain",
        "activity",
        _kw("rain, rainy, raindrops, raining, drizzle, storm, stormy, thunderstorm, downpour, umbrella"),
        "Rain: raindrops on the window, grey skies and a rainy day indoors.",
        valence=-0.3,
        arousal=0.25,
        modes=("minor", "dorian"),
        suggests=("lo-fi", "jazz", "ambient"),
    ),
    Tag(
        "coffee shop",
        "activity",
        _kw("coffee, cafe, café, coffee shop, coffeehouse, espresso, latte, brunch, sunday, bakery, tea"),
        "A coffee shop on a lazy Sunday: the smell of espresso, quiet conversation and soft acoustic jazz.",
        valence=0.35,
        arousal=0.3,
        modes=("major", "dorian"),
        suggests=("jazz", "bossa nova", "folk"),
    ),
    Tag(
        "study",
        "activity",
        _kw(
            "study, studying, focus, concentration, concentrate, homework, reading, coding, "
            "productivity, exam, library"
        ),
        "Studying and focusing: unobtrusive background music for homework, reading and concentration.",
        valence=0.1,
        arousal=0.25,
        suggests=("lo-fi", "ambient", "classical"),
    ),
    Tag(
        "sleep",
        "activity",
        _kw("sleep, sleeping, bedtime, insomnia, nap, asleep, dreams, goodnight, good night"),
        "Falling asleep: very slow, soft, quiet music at bedtime.",
        valence=0.2,
        arousal=0.04,
        modes=("major", "lydian"),
        suggests=("ambient", "lullaby"),
    ),
    Tag(
        "workout",
        "activity",
        _kw("workout, gym, running, training, exercise, cardio, lifting, sprint, fitness, hiit, jogging"),
        "A workout at the gym: pumping high-energy music for running, lifting and cardio.",
        valence=0.4,
        arousal=0.95,
        suggests=("edm", "trap", "rock"),
    ),
    Tag(
        "party",
        "activity",
        _kw("party, dance floor, dancefloor, club, rave, clubbing, nightclub, dancing, dance, festival"),
        "A party on the dance floor: a club full of people dancing all night.",
        valence=0.6,
        arousal=0.9,
        suggests=("house", "edm", "disco", "pop"),
    ),
    Tag(
        "driving",
        "activity",
        _kw("driving, drive, road trip, roadtrip, highway, cruising, night drive, car, freeway, open road"),
        "Driving down the highway on a road trip, cruising with the windows down.",
        valence=0.35,
        arousal=0.6,
        suggests=("synthwave", "rock", "city pop"),
    ),
    Tag(
        "city",
        "activity",
        _kw(
            "city, urban, downtown, tokyo, new york, streets, street, neon, metropolis, "
            "skyline, subway, seoul, london, paris"
        ),
        "A big city at night: neon signs, busy streets, subway trains and skyline lights in Tokyo or "
        "New York.",
        valence=0.0,
        arousal=0.5,
        suggests=("city pop", "lo-fi", "hip hop"),
    ),
    Tag(
        "beach",
        "activity",
        _kw(
            "beach, summer, tropical, island, sunshine, seaside, surf, surfing, palm trees, "
            "vacation, holiday by the sea"
        ),
        "A sunny beach in summer: tropical islands, waves, palm trees and vacation.",
        valence=0.65,
        arousal=0.55,
        modes=("major", "mixolydian"),
        suggests=("reggae", "bossa nova", "pop"),
    ),
    Tag(
        "nature",
        "activity",
        _kw(
            "forest, nature, mountains, mountain, river, woods, meadow, garden, hiking, "
            "countryside, valley, lake"
        ),
        "Nature: a walk through forests, meadows and mountains, birdsong and a flowing river.",
        valence=0.35,
        arousal=0.25,
        modes=("major", "lydian", "mixolydian"),
        suggests=("folk", "ambient", "classical"),
    ),
    Tag(
        "space",
        "activity",
        _kw(
            "space, cosmic, stars, galaxy, universe, astronaut, nebula, outer space, planet, "
            "orbit, interstellar"
        ),
        "Outer space: drifting among stars and galaxies, cosmic and vast.",
        valence=0.05,
        arousal=0.25,
        modes=("lydian", "minor"),
        suggests=("ambient", "synthwave"),
    ),
    Tag(
        "winter holiday",
        "activity",
        _kw("christmas, xmas, winter, snow, snowy, snowfall, holiday, festive, sleigh, fireplace, december"),
        "A snowy winter holiday: Christmas by the fireplace with sleigh bells and warm lights.",
        valence=0.5,
        arousal=0.4,
        modes=("major",),
        suggests=("classical", "jazz"),
        instruments=_parts(lead=9, arp=8),
    ),
    Tag(
        "video game",
        "activity",
        _kw(
            "video game, game, gaming, boss battle, boss fight, level, arcade, rpg, "
            "dungeon, quest, pixel, retro game"
        ),
        "A video game level: an adventurous quest, a boss battle, arcade action and pixel worlds.",
        valence=0.2,
        arousal=0.7,
        suggests=("chiptune", "cinematic"),
    ),
    Tag(
        "meditation",
        "activity",
        _kw("meditation, meditate, yoga, mindfulness, breathing, spa, zen, healing, massage"),
        "Meditation and yoga: slow breathing, stillness, zen calm and healing.",
        valence=0.3,
        arousal=0.05,
        modes=("lydian", "major"),
        suggests=("ambient",),
    ),
)

INSTRUMENTS: tuple[Tag, ...] = (
    Tag(
        "piano",
        "instrument",
        _kw("piano, pianos, grand piano, keys, pianist"),
        "Solo piano, expressive keys.",
        instruments=_parts(lead=0),
    ),
    Tag(
        "electric piano",
        "instrument",
        _kw("rhodes, electric piano, wurlitzer, e piano, epiano"),
        "A warm Rhodes electric piano.",
        instruments=_parts(lead=4),
    ),
    Tag(
        "guitar",
        "instrument",
        _kw("guitar, guitars, acoustic guitar, electric guitar, guitarist, strumming"),
        "Guitar playing, strummed or picked.",
        instruments=_parts(lead=25),
    ),
    Tag(
        "strings",
        "instrument",
        _kw("strings, violin, violins, cello, cellos, viola, string section, orchestral strings"),
        "A string section: violins, violas and cellos.",
        instruments=_parts(lead=40, pad=48),
    ),
    Tag(
        "synth",
        "instrument",
        _kw("synth, synths, synthesizer, synthesizers, analog synth, modular, moog"),
        "Analog synthesizers and electronic sounds.",
        instruments=_parts(lead=81, pad=89),
    ),
    Tag(
        "brass",
        "instrument",
        _kw("brass, trumpet, trumpets, trombone, horns, horn section, tuba, french horn"),
        "Brass: trumpets, trombones and horns.",
        instruments=_parts(lead=56),
    ),
    Tag(
        "saxophone",
        "instrument",
        _kw("sax, saxophone, saxophones, alto sax, tenor sax"),
        "A smooth saxophone melody.",
        instruments=_parts(lead=66),
    ),
    Tag(
        "woodwinds",
        "instrument",
        _kw("flute, flutes, clarinet, oboe, bassoon, woodwind, woodwinds, recorder, pan flute"),
        "Woodwinds: flute, clarinet and oboe.",
        instruments=_parts(lead=73),
    ),
    Tag(
        "bells",
        "instrument",
        _kw("bells, bell, chimes, glockenspiel, music box, celesta, vibraphone, marimba, xylophone, kalimba"),
        "Bells and mallets: glockenspiel, music box, marimba and vibraphone.",
        instruments=_parts(lead=10),
    ),
    Tag(
        "choir",
        "instrument",
        _kw("choir, choirs, choral, vocals, voices, singing, vocal, chant, chanting"),
        "A choir of voices singing together.",
        instruments=_parts(pad=52),
    ),
    Tag(
        "organ",
        "instrument",
        _kw("organ, hammond, church organ, pipe organ, organs"),
        "An organ: Hammond or church pipe organ.",
        instruments=_parts(chords=16),
    ),
    Tag(
        "bass",
        "instrument",
        _kw("bass, bassline, bass line, 808 bass, sub bass, slap bass, upright bass, bass heavy, heavy bass"),
        "A prominent bassline.",
        instruments=_parts(bass=33),
    ),
)

ERAS: tuple[Tag, ...] = (
    Tag(
        "1920s",
        "era",
        _kw(
            "1920s, 1930s, 20s, 30s, twenties, thirties, roaring twenties, jazz age, ragtime, "
            "gramophone, prohibition"
        ),
        "The roaring twenties and thirties: ragtime piano, hot jazz and crackly gramophone records.",
        valence=0.4,
        suggests=("swing", "jazz"),
        instruments=_parts(lead=56, chords=3),
        swing=0.3,
    ),
    Tag(
        "1950s",
        "era",
        _kw("1950s, 50s, fifties, doo wop, doowop, rockabilly, sock hop, diner"),
        "The fifties: doo-wop, rockabilly and early rock and roll at a diner sock hop.",
        valence=0.5,
        suggests=("rock", "blues"),
        instruments=_parts(lead=27, chords=0, bass=32),
        swing=0.23,
    ),
    Tag(
        "1960s",
        "era",
        _kw("1960s, 60s, sixties, psychedelic, surf rock, british invasion, woodstock, hippie"),
        "The sixties: psychedelic rock, surf guitars, organ and flower power.",
        suggests=("rock", "folk"),
        instruments=_parts(lead=27, chords=16, bass=33),
    ),
    Tag(
        "1970s",
        "era",
        _kw("1970s, 70s, seventies"),
        "The seventies: disco balls, funk grooves and classic rock on vinyl.",
        suggests=("disco", "funk", "rock"),
        instruments=_parts(chords=4, bass=33),
    ),
    Tag(
        "1980s",
        "era",
        _kw("1980s, 80s, eighties, retro, neon, vhs, arcade era"),
        "The eighties: neon, VHS tapes, gated reverb drums and shiny analog synthesizers.",
        suggests=("synthpop", "synthwave"),
        instruments=_parts(lead=81, chords=5, pad=90),
    ),
    Tag(
        "1990s",
        "era",
        _kw("1990s, 90s, nineties"),
        "The nineties: golden-era hip hop, grunge guitars and rave culture.",
        suggests=("hip hop", "rock"),
    ),
    Tag(
        "2000s",
        "era",
        _kw("2000s, y2k, noughties, aughts"),
        "The 2000s: glossy Y2K pop, R&B and early EDM.",
        suggests=("pop", "r&b", "edm"),
    ),
    Tag(
        "baroque",
        "era",
        _kw("baroque, bach, vivaldi, handel, medieval, renaissance, courtly, minuet"),
        "Baroque and early music: harpsichord, counterpoint and courtly dances of Bach and Vivaldi.",
        modes=("major", "minor"),
        suggests=("classical",),
        instruments=_parts(lead=40, chords=6, bass=42),
    ),
    Tag(
        "futuristic",
        "era",
        _kw(
            "futuristic, future, cyberpunk, sci fi, scifi, science fiction, dystopian, robot, "
            "robots, android, 2077"
        ),
        "The future: cyberpunk cities, robots and science-fiction technology.",
        valence=-0.05,
        suggests=("techno", "synthwave"),
        instruments=_parts(lead=81, pad=95),
    ),
)
TAGS: tuple[Tag, ...] = GENRES + MOODS + ACTIVITIES + INSTRUMENTS + ERAS
TAGS_BY_NAME: dict[str, Tag] = {tag.name: tag for tag in TAGS}


def _normalise(text: str) -> str:
    """Lowercase with '-', '_', '/', apostrophes as spaces; same length, so spans map back to the prompt."""
    return re.sub(r"[-_/'’‘]", " ", text.lower())


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole-word (and plural-tolerant) matcher for a keyword in normalised text."""
    tokens = _normalise(keyword).split()
    body = r"\s+".join(re.escape(tok) for tok in tokens)
    return re.compile(rf"(?<![a-z0-9&]){body}s?(?![a-z0-9&])")


def normalise_prompt(text: str) -> str:
    """The form keyword patterns match against (positions equal the prompt's)."""
    return _normalise(text)


def vocabulary_markdown() -> str:
    """The tag list as Markdown; docs/styles-vocabulary.md is this text."""
    titles = {"genre": "Genres", "mood": "Moods", "activity": "Activities, places and times",
              "instrument": "Instruments", "era": "Eras"}  # fmt: skip
    lines = [
        "# Styles vocabulary",
        "",
        "<!-- Generated from services/prompting/vocabulary.py by vocabulary_markdown(); "
        "a test keeps them equal. -->",
        "",
        f"The styles interpreter maps a prompt onto these {len(TAGS)} tags, by keyword (whole words, any",
        "case) and by meaning (sentence-embedding similarity with each description). Genres, moods,",
        "activities and eras can be matched by meaning; instrument tags only by keyword. Explicit statements",
        "in the prompt (tempo, key, metre, instruments, drums, notes, length) always win over what a tag",
        "implies.",
        "",
        "Drum styles: " + ", ".join(f"`{s}`" for s in DRUM_STYLES) + ".",
        "",
    ]
    for category in CATEGORIES:
        tags = [t for t in TAGS if t.category == category]
        lines += [f"## {titles[category]} ({len(tags)})", ""]
        for tag in tags:
            lines.append(f"### {tag.name}")
            lines.append("")
            lines.append(tag.description)
            lines.append("")
            lines.append("- keywords: " + ", ".join(tag.keywords))
            facts = []
            if tag.tempo:
                facts.append(f"tempo {tag.tempo[0]:g}–{tag.tempo[1]:g} bpm")
            if tag.valence is not None:
                facts.append(f"valence {tag.valence:+.2f}")
            if tag.arousal is not None:
                facts.append(f"arousal {tag.arousal:.2f}")
            if tag.modes:
                facts.append("modes " + ", ".join(tag.modes))
            if tag.metre:
                facts.append(f"metre {tag.metre[0]}/{tag.metre[1]}")
            if tag.drums is not None:
                facts.append(f"drums: {tag.drum_style}" if tag.drums else "no drums")
            if tag.swing:
                facts.append(f"swing {tag.swing:.2f}")
            if facts:
                lines.append("- implies: " + "; ".join(facts))
            if tag.instruments:
                lines.append(
                    "- instruments: "
                    + ", ".join(f"{role} {program_name(p)} ({p})" for role, p in tag.instruments)
                )
            if tag.suggests:
                lines.append("- leans toward: " + ", ".join(tag.suggests))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
