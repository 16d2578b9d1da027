#!/usr/bin/env python3
"""Speech and captions in many languages, drawn from a seed, against the peers on the same inputs.

Speech (12 languages): real recordings from Debian's asterisk-core-sounds-{en,es,fr,it,ru} (prompts joined
0.8 s apart, references from the packages' prompt lists), espeak-ng voices for de, pt, nl, pl and tr and
Festival voices for cs and ca (sentences below). espeak-ng's ja, zh, hi and ar voices are left out: it reads
kanji and kana as "Chinese letter", and whisper hears its Mandarin, Hindi and Arabic as other languages or
nothing (no reference a listener would accept); Debian's Festival Hindi voice does not load. Per language: language-ID accuracy, WER (CER for ja and zh) and seconds, for
gg-transcribe (whisper base, 8-bit, language auto) and faster-whisper on the same base weights (int8, beam 5,
language detected); each runs once per language over that language's clips, model load included.
With --tiny-en, the English clips also go through the English-only tiny.en in both engines.
Captions (12 scripts): phrases rendered with pango-view (Noto fonts) black on white (stills) and white on a
dark box over a test pattern (video frames). Per script: character recall (longest common subsequence, spaces
ignored) and seconds, for gg-ocr --lang auto and the tesseract CLI told the right language.
usage: bench/multilingual.py [--seed N] [--clips N] [--tiny-en] [--speech-only | --ocr-only]
Needs: apt-get install asterisk-core-sounds-{en,es,fr,it,ru}{,-wav} festival festvox-czech-machac festvox-ca-ona-hts
pango1.0-tools; pip install faster-whisper."""
import gzip, json, os, random, re, shutil, subprocess, sys, time, unicodedata
from common import OUT, BIN, ROOT, READ, ffmpeg, require_release

require_release()
args = sys.argv[1:]
seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
clips = int(args[args.index("--clips") + 1]) if "--clips" in args else 2
rng = random.Random(seed)
work = os.path.join(OUT, f"multilingual-{seed}")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
MODELS = os.path.join(ROOT, ".whisper", "models")

ASTERISK = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "it": "it_IT_m_Carlo", "ru": "ru_RU_f_IvrvoiceRU"}
ESPEAK = {
    "de": ["Heute gehen wir mit den Kindern in den Park.", "Das Wetter ist schön und die Sonne scheint.",
           "Ich habe gestern ein neues Fahrrad gekauft.", "Wir treffen uns morgen um acht Uhr am Bahnhof.",
           "Meine Schwester kocht am liebsten Suppe mit Gemüse.", "Der Zug nach Berlin hat zehn Minuten Verspätung."],
    "pt": ["Hoje vamos cozinhar um prato típico do Brasil.", "O mercado abre às oito horas da manhã.",
           "Minha família mora perto da praia.", "Eu gosto de ler livros antes de dormir.",
           "O ônibus para o centro sai a cada quinze minutos.", "Amanhã vai chover durante a tarde inteira."],
    "nl": ["Vandaag fietsen we naar het strand.", "De winkel op de hoek verkoopt vers brood.",
           "Mijn broer werkt in een groot ziekenhuis.", "We hebben gisteren een mooie film gezien.",
           "De trein naar Amsterdam vertrekt om negen uur.", "In de zomer eten we vaak buiten in de tuin."],
    "pl": ["Dzisiaj idziemy do kina z przyjaciółmi.", "Mój brat mieszka w dużym mieście.",
           "Na śniadanie jem chleb z masłem i serem.", "Pociąg do Krakowa odjeżdża o dziesiątej.",
           "W weekend pojedziemy nad jezioro.", "Ta książka jest bardzo ciekawa i długa."],
    "tr": ["Bugün arkadaşlarımla sinemaya gidiyorum.", "Annem mutfakta lezzetli bir yemek pişiriyor.",
           "Okul saat sekizde başlıyor.", "Yarın hava güneşli ve sıcak olacak.",
           "Kardeşim büyük bir şehirde çalışıyor.", "Hafta sonu deniz kenarında yürüyüş yaptık."],
}
ESPEAK_VOICE = {}
FESTIVAL = {
    "cs": ("voice_czech_machac", ["Dnes jdeme s dětmi do parku a potom na oběd.", "Včera večer jsme viděli velmi dobrý film.",
                                  "Můj bratr pracuje v nemocnici v Praze.", "Vlak do Brna odjíždí v devět hodin.",
                                  "V létě jezdíme k moři s celou rodinou.", "Tahle kniha je opravdu zajímavá."]),
    "ca": ("voice_upc_ca_ona_hts", ["Avui anem al mercat a comprar pa i formatge.", "La meva germana viu a Barcelona.",
                                    "Demà farà sol i calor tot el dia.", "El tren surt de l'estació a les nou.",
                                    "Aquest llibre és molt interessant.", "Els dissabtes sopem a casa dels avis."]),
}
UNSPACED = {"ja", "zh"}

CAPTIONS = {
    "Latin (eng)": ("eng", ["BREAKING NEWS TODAY", "Summer sale starts now", "Follow for more recipes", "The best view in town"]),
    "Latin (spa)": ("spa", ["Cómo preparar una paella", "¡Oferta de verano aquí!", "Mañana jugamos en casa", "Música en vivo esta noche"]),
    "Vietnamese": ("vie", ["Hôm nay trời đẹp quá", "Món phở ngon nhất", "Chúc mừng năm mới", "Cảm ơn các bạn"]),
    "Cyrillic": ("rus", ["Привет, друзья!", "Сегодня готовим борщ", "Новости дня", "Подпишитесь на канал"]),
    "Arabic": ("ara", ["مرحبا بكم", "أخبار اليوم", "وصفة سهلة", "شكرا للمشاهدة"]),
    "Devanagari": ("hin", ["नमस्ते दोस्तों", "आज की ताज़ा खबर", "खाना बनाना सीखें", "देखने के लिए धन्यवाद"]),
    "Bengali": ("ben", ["আজকের খবর", "সবাইকে স্বাগতম", "রান্নার সহজ উপায়", "দেখার জন্য ধন্যবাদ"]),
    "Han (simplified)": ("chi_sim", ["今天的新闻", "欢迎大家收看", "简单的家常菜", "谢谢观看"]),
    "Han (traditional)": ("chi_tra", ["今天的新聞", "歡迎大家收看", "簡單的家常菜", "謝謝觀看"]),
    "Japanese": ("jpn", ["今日のニュース", "美味しいラーメン", "チャンネル登録してね", "見てくれてありがとう"]),
    "Hangul": ("kor", ["오늘의 뉴스", "맛있는 라면", "구독해 주세요", "시청해 주셔서 감사합니다"]),
    "Thai": ("tha", ["ข่าววันนี้", "อาหารอร่อย", "ขอบคุณที่รับชม", "กดติดตามด้วยนะ"]),
}


def run(cmd, **kw):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.perf_counter() - start, proc


def normal(text, unspaced):
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text)
    return [c for c in text if c != " "] if unspaced else text.split()


def error_rate(ref, hyp, unspaced):
    r, h = normal(ref, unspaced), normal(hyp, unspaced)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
    return d[len(h)] / max(len(r), 1)


def char_recall(ref, hyp):
    r, h = normal(ref, True), normal(hyp, True)
    d = [0] * (len(h) + 1)
    for a in r:
        prev = 0
        for j, b in enumerate(h, 1):
            prev, d[j] = d[j], prev + 1 if a == b else max(d[j], d[j - 1])
    return d[len(h)] / max(len(r), 1)


def asterisk_prompts(language):
    listing = f"/usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz"
    folder = f"/usr/share/asterisk/sounds/{ASTERISK[language]}"
    if not os.path.exists(listing) or not os.path.isdir(folder):
        sys.exit(f"apt-get install asterisk-core-sounds-{language} asterisk-core-sounds-{language}-wav")
    prompts = []
    for line in gzip.open(listing, "rt", encoding="utf-8-sig", errors="replace"):
        name, _, text = line.partition(":")
        text = re.sub(r"\[[^\]]*\]|<[^>]*>", " ", text).strip()
        path = os.path.join(folder, name.strip() + ".wav")
        if text and not line.startswith(";") and len(text.split()) >= 5 and os.path.exists(path):
            prompts.append((path, text))
    return sorted(prompts)


def speech_set():
    """(language, wav, reference) for `clips` clips per language."""
    made = []
    for language in list(ASTERISK) + list(ESPEAK) + list(FESTIVAL):
        for n in range(clips):
            wav = os.path.join(work, f"{language}-{n}.wav")
            parts = []
            if language in ASTERISK:
                chosen = rng.sample(asterisk_prompts(language), 3)
                for k, (path, _) in enumerate(chosen):
                    part = os.path.join(work, f"{language}-{n}-{k}.wav")
                    ffmpeg("-i", path, "-af", "apad=pad_dur=0.8", "-ar", "16000", "-ac", "1", part)
                    parts.append(part)
                reference = " ".join(text for _, text in chosen)
            else:
                chosen = rng.sample(ESPEAK[language] if language in ESPEAK else FESTIVAL[language][1], 2)
                for k, sentence in enumerate(chosen):
                    part = os.path.join(work, f"{language}-{n}-{k}.wav")
                    if language in ESPEAK:
                        subprocess.run(["espeak-ng", "-v", ESPEAK_VOICE.get(language, language), "-s", str(rng.choice([130, 145, 160])),
                                        "-w", part + ".raw.wav", sentence], check=True)
                    else:
                        with open(part + ".txt", "w") as text:
                            text.write(sentence + "\n")
                        subprocess.run(["text2wave", "-eval", f"({FESTIVAL[language][0]})", part + ".txt", "-o", part + ".raw.wav"],
                                       check=True, capture_output=True)
                    ffmpeg("-i", part + ".raw.wav", "-af", "apad=pad_dur=0.8", "-ar", "16000", "-ac", "1", part)
                    parts.append(part)
                reference = " ".join(chosen)
            inputs = sum((["-i", p] for p in parts), [])
            ffmpeg(*inputs, "-filter_complex", "".join(f"[{i}:a]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1", wav)
            made.append((language, wav, reference))
    return made


FASTER_WHISPER = """
import json, sys, time
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=2)
for path in sys.argv[2:]:
    segments, info = model.transcribe(path, beam_size=5, language="en" if sys.argv[1].endswith("tiny.en") else None)
    print(json.dumps({"language": info.language, "text": " ".join(s.text.strip() for s in segments)}, ensure_ascii=False))
"""


def gg_transcribe(model, paths):
    record = json.dumps({"id": "ml", "url": "x", "items": [{"index": i, "type": "audio", "path": p} for i, p in enumerate(paths)]})
    seconds, proc = run([os.path.join(BIN, "gg-transcribe"), "--work-dir", os.path.join(work, "gg"), *READ, "--model", model], input=record)
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    return seconds, [(i["transcript"]["language"], i["transcript"]["text"]) for i in json.loads(proc.stdout)["items"]]


def fw_transcribe(ct2, paths):
    seconds, proc = run([sys.executable, "-c", FASTER_WHISPER, ct2, *paths])
    if proc.returncode != 0:
        sys.exit(proc.stderr[-2000:])
    return seconds, [(r["language"], r["text"]) for r in map(json.loads, proc.stdout.splitlines())]


def speech(tiny_en):
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        sys.exit("pip install faster-whisper")
    made = speech_set()
    engines = [("gg base", lambda p: gg_transcribe(os.path.join(MODELS, "ggml-base-q8_0.bin"), p)),
               ("faster-whisper base", lambda p: fw_transcribe(os.path.join(MODELS, "base"), p))]
    print(f"speech, seed {seed}: {clips} clips per language; LID = language identified; WER (CER for ja, zh); s = whole run over the clips")
    print(f"{'language':<8}{'audio s':>8}" + "".join(f"{name + ' LID':>24}{'WER':>7}{'s':>7}" for name, _ in engines))
    totals = {name: [0, 0.0, 0.0] for name, _ in engines}
    worst = {name: 0.0 for name, _ in engines}
    audio_total = 0.0
    languages = list(dict.fromkeys(language for language, _, _ in made))
    for language in languages:
        group = [(wav, ref) for lang, wav, ref in made if lang == language]
        audio = sum(float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", w],
                                         capture_output=True, text=True).stdout) for w, _ in group)
        audio_total += audio
        cells = ""
        for name, engine in engines:
            seconds, results = engine([w for w, _ in group])
            hits = sum(found == language for found, _ in results)
            rate = sum(error_rate(ref, text, language in UNSPACED) for (_, ref), (_, text) in zip(group, results)) / len(group)
            totals[name][0] += hits
            totals[name][1] += rate
            totals[name][2] += seconds
            worst[name] = max(worst[name], rate)
            cells += f"{f'{hits}/{len(group)}':>24}{rate:>7.2f}{seconds:>7.1f}"
        print(f"{language:<8}{audio:>8.1f}" + cells)
    print(f"{'all':<8}{audio_total:>8.1f}" + "".join(
        f"{f'{t[0]}/{len(made)}':>24}{t[1] / len(languages):>7.2f}{t[2]:>7.1f}" for t in totals.values()))
    print("worst language error rate: " + ", ".join(f"{name} {w:.2f}" for name, w in worst.items()))
    gg_s, fw_s = totals["gg base"][2], totals["faster-whisper base"][2]
    print(f"time ratio gg / faster-whisper: {gg_s / fw_s:.2f}\n")
    if tiny_en:
        english = [w for lang, w, _ in made if lang == "en"]
        refs = [r for lang, _, r in made if lang == "en"]
        for name, engine in [("gg tiny.en", lambda p: gg_transcribe(os.path.join(MODELS, "ggml-tiny.en-q8_0.bin"), p)),
                             ("faster-whisper tiny.en", lambda p: fw_transcribe(os.path.join(MODELS, "tiny.en"), p)),
                             ("gg base", engines[0][1]), ("faster-whisper base", engines[1][1])]:
            seconds, results = engine(english)
            rate = sum(error_rate(r, t, False) for r, (_, t) in zip(refs, results)) / len(refs)
            print(f"English clips, {name:<24} WER {rate:.2f}  {seconds:.1f} s")
        print()


def caption_set():
    """(script, language, still or video, png, text) for two pictures of each kind per script."""
    rng = random.Random(seed * 1000 + 1)  # its own draws: the same pictures with or without the speech set
    if shutil.which("pango-view") is None:
        sys.exit("apt-get install pango1.0-tools")
    made = []
    for n, (script, (language, phrases)) in enumerate(CAPTIONS.items()):
        for kind in ("still", "video"):
            for k, text in enumerate(rng.sample(phrases, 2)):
                png = os.path.join(work, f"caption-{n}-{kind}-{k}.png")
                size = rng.choice([24, 30, 38])
                if kind == "still":
                    subprocess.run(["pango-view", "--no-display", f"--font=Noto Sans {size}", "--background=white", "--foreground=black",
                                    "--margin=30", "-t", text, "-o", png], check=True)
                else:
                    label = png + ".label.png"
                    subprocess.run(["pango-view", "--no-display", f"--font=Noto Sans {size}", "--background=#202020", "--foreground=white",
                                    "--margin=12", "-t", text, "-o", label], check=True)
                    source = rng.choice(["testsrc2", "smptebars", "rgbtestsrc", "mandelbrot"])
                    ffmpeg("-f", "lavfi", "-i", f"{source}=size=854x480:rate=1", "-i", label, "-filter_complex",
                           f"[0:v][1:v]overlay=x=(W-w)/2:y=H-h-{rng.choice([40, 70, 110])}", "-frames:v", "1", png)
                made.append((script, language, kind, png, text))
    return made


def ocr():
    made = caption_set()
    record = json.dumps({"id": "ocr", "url": "x", "items": [{"index": i, "type": "image", "path": m[3]} for i, m in enumerate(made)]})
    gg_seconds, proc = run([os.path.join(BIN, "gg-ocr"), "--work-dir", os.path.join(work, "gg"), *READ, "--jobs", "1"], input=record)
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    gg_text = [item.get("text", "") for item in json.loads(proc.stdout)["items"]]
    cli_text, cli_seconds = [], 0.0
    for _, language, _, png, _ in made:
        seconds, done = run(["tesseract", png, "-", "-l", language], env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        cli_seconds += seconds
        cli_text.append(done.stdout)
    print(f"captions, seed {seed}: 2 stills and 2 video frames per script; character recall (LCS, spaces ignored)")
    print(f"{'script':<20}{'gg --lang auto':>16}{'CLI -l LANG':>14}{'gg still':>10}{'gg video':>10}")
    rows = []
    for script in CAPTIONS:
        picked = [i for i, m in enumerate(made) if m[0] == script]
        gg = [char_recall(made[i][4], gg_text[i]) for i in picked]
        cli = [char_recall(made[i][4], cli_text[i]) for i in picked]
        still = [g for i, g in zip(picked, gg) if made[i][2] == "still"]
        video = [g for i, g in zip(picked, gg) if made[i][2] == "video"]
        rows.append((sum(gg) / len(gg), sum(cli) / len(cli)))
        print(f"{script:<20}{rows[-1][0]:>16.3f}{rows[-1][1]:>14.3f}{sum(still) / len(still):>10.3f}{sum(video) / len(video):>10.3f}")
    print(f"{'mean':<20}{sum(r[0] for r in rows) / len(rows):>16.3f}{sum(r[1] for r in rows) / len(rows):>14.3f}")
    print(f"{'worst script':<20}{min(r[0] for r in rows):>16.3f}{min(r[1] for r in rows):>14.3f}")
    print(f"seconds over {len(made)} pictures: gg-ocr {gg_seconds:.1f} (one process, one worker, models loaded once), "
          f"tesseract CLI {cli_seconds:.1f} (a process per picture); ratio {gg_seconds / cli_seconds:.2f}\n")


if "--ocr-only" not in args:
    speech("--tiny-en" in args)
if "--speech-only" not in args:
    ocr()
