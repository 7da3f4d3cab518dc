"""Tiny random-weight models built offline from configs, saved like real ones, for tests that load them."""

from __future__ import annotations

import io
import json
import shutil
import string
import wave
from pathlib import Path
from typing import Any

import numpy as np

SIZE = 64  # tiny images: the VAE still scales by 8, so latents are 8×8


def build_tiny_model(folder: Path) -> Path:
    """A random-weight SD pipeline (UNet, VAE, CLIP text model, CLIP tokenizer from a written vocabulary)
    saved with save_pretrained; returns the model folder."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=4, layers_per_block=1, sample_size=SIZE,
    )
    text = CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=1000,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    ))
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits + string.punctuation:
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    tokenizer_dir = folder / "tokenizer-src"
    tokenizer_dir.mkdir(parents=True)
    (tokenizer_dir / "vocab.json").write_text(json.dumps(vocab))
    (tokenizer_dir / "merges.txt").write_text("#version: 0.2\n")
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": 77, "tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
    }))
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    scheduler = DPMSolverMultistepScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    out = folder / "model"
    pipe.save_pretrained(out)
    return out


def wav_bytes(seconds: float, rate: int = 22_050, freq: float = 330.0) -> bytes:
    """A plucked tone as 16-bit WAV bytes: a stand-in for a user's attachment."""
    t = np.arange(int(seconds * rate)) / rate
    wave_data = 0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * (t % 0.5))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((wave_data * 32767).astype("<i2").tobytes())
    return buffer.getvalue()




SONG_SAMPLE_RATE = 16_000  # the tiny ACE-Step VAE's rate: 640 samples a latent frame, 25 frames a second


def build_tiny_song_model(folder: Path) -> Path:
    """A random-weight ACE-Step 1.5 pipeline (DiT, condition encoder, audio tokenizer/detokenizer, Oobleck
    VAE, a tiny Qwen3 text model and a word-level tokenizer built in code) saved with save_pretrained;
    returns the model folder. Shapes follow diffusers' tests/pipelines/ace_step; the VAE keeps ACE-Step's
    25 latent frames a second at 16 kHz, so songs have real lengths."""
    import torch
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
    )
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    dim = 8  # acoustic latent channels
    common = dict(
        hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
        rope_theta=10000.0, sliding_window=16,
    )
    torch.manual_seed(0)
    transformer = AceStepTransformer1DModel(
        num_hidden_layers=2, in_channels=3 * dim, audio_acoustic_hidden_dim=dim, patch_size=2, **common
    )
    condition_encoder = AceStepConditionEncoder(
        text_hidden_dim=32, timbre_hidden_dim=dim, num_lyric_encoder_hidden_layers=1,
        num_timbre_encoder_hidden_layers=1, **common,
    )
    audio_tokenizer = AceStepAudioTokenizer(
        audio_acoustic_hidden_dim=dim, pool_window_size=5, fsq_dim=32, fsq_input_levels=[8, 8, 8],
        num_attention_pooler_hidden_layers=1, **common,
    )
    detokenizer = AceStepAudioTokenDetokenizer(
        audio_acoustic_hidden_dim=dim, pool_window_size=5, num_attention_pooler_hidden_layers=1, **common
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=2 * dim, downsampling_ratios=[2, 4, 8, 10], channel_multiples=[1, 2, 2, 2],
        decoder_channels=4, decoder_input_channels=dim, audio_channels=2, sampling_rate=SONG_SAMPLE_RATE,
    )
    vocab = {"<pad>": 0, "<unk>": 1, "<|endoftext|>": 2}
    for word in list(string.ascii_lowercase + string.digits + string.punctuation) + ["#", "\n"]:
        vocab.setdefault(word, len(vocab))
    words = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="<pad>", unk_token="<unk>", eos_token="<|endoftext|>",
        model_max_length=4096,
    )
    text_encoder = Qwen3Model(Qwen3Config(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, vocab_size=len(vocab), max_position_embeddings=4096,
    ))
    pipe = AceStepPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
        audio_tokenizer=audio_tokenizer, audio_token_detokenizer=detokenizer,
    )
    out = folder / "model"
    pipe.save_pretrained(out)
    return out


MUSICGEN_SAMPLE_RATE = 32_000  # the tiny EnCodec's rate: 640 samples a code frame, 50 frames a second
_MUSICGEN_WORDS = (
    "rainy lofi piano jazz drums bass happy sad calm epic guitar synth ambient techno rock pop folk beat "
    "bpm slow fast dark bright warm cold hum melody in major minor"
).split()


def build_tiny_musicgen_model(folder: Path, *, melody: bool = False) -> Path:
    """A random-weight MusicGen (T5 text encoder, EnCodec, decoder; with `melody`, MusicGen-Melody) and a T5
    tokenizer from a sentencepiece model trained here, saved with save_pretrained; returns the folder."""
    import sentencepiece as spm
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
        T5Tokenizer,
    )

    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "_spm"
    work.mkdir(exist_ok=True)
    corpus = "\n".join(
        " ".join(_MUSICGEN_WORDS[(i * 7 + j) % len(_MUSICGEN_WORDS)] for j in range(8)) for i in range(200)
    )
    (work / "corpus.txt").write_text(corpus + "\n0 1 2 3 4 5 6 7 8 9 , .\n")
    spm.SentencePieceTrainer.train(
        input=str(work / "corpus.txt"),
        model_prefix=str(work / "spiece"),
        vocab_size=64,
        hard_vocab_limit=False,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(work / "spiece.model"))
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    shutil.rmtree(work)
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)
    codes = 32
    text = T5Config(
        vocab_size=len(tokenizer), d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )  # fmt: skip
    codec = EncodecConfig(
        sampling_rate=MUSICGEN_SAMPLE_RATE, audio_channels=1, hidden_size=8, num_filters=4,
        num_residual_layers=1, upsampling_ratios=[8, 4, 4, 5], codebook_size=codes, codebook_dim=8,
        target_bandwidths=[0.5], compress=2, num_lstm_layers=1, norm_type="weight_norm",
    )  # fmt: skip  (0.5 kbps: 2 codebooks of 32 codes at 50 Hz, as many as the decoder reads)
    decoder_cls = MusicgenMelodyDecoderConfig if melody else MusicgenDecoderConfig
    decoder = decoder_cls(
        vocab_size=codes, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        num_codebooks=2, max_position_embeddings=4096, audio_channels=1,
        pad_token_id=codes, bos_token_id=codes, decoder_start_token_id=codes,
    )  # fmt: skip
    parts = {"text_encoder": text.to_dict(), "audio_encoder": codec.to_dict(), "decoder": decoder.to_dict()}
    if melody:
        model: Any = MusicgenMelodyForConditionalGeneration(MusicgenMelodyConfig(**parts, num_chroma=12))
        (folder / "preprocessor_config.json").write_text(
            json.dumps(
                {
                    "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
                    "sampling_rate": MUSICGEN_SAMPLE_RATE,
                    "n_fft": 16384,
                    "hop_length": 4096,
                    "chunk_length": 30,
                    "feature_size": 12,
                }
            )
        )
    else:
        model = MusicgenForConditionalGeneration(MusicgenConfig(**parts))
    for name in ("pad_token_id", "decoder_start_token_id", "bos_token_id"):
        setattr(model.generation_config, name, codes)
    # EnCodec's codebooks start as zeros (they are learned buffers): random ones, so codes are heard
    import torch

    noise = torch.Generator().manual_seed(0)
    for layer in model.audio_encoder.quantizer.layers:
        book = layer.codebook
        book.embed.copy_(torch.randn(book.embed.shape, generator=noise))
        book.embed_avg.copy_(book.embed)
        book.inited.fill_(1.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
