//! The prompt cache: decoding (wav, flac, ogg), mixing to mono, band-limited resampling to
//! 8 kHz, G.711 frames, one decode for many concurrent callers, typed errors, reloading a
//! changed file, eviction, text-to-speech with espeak-ng, and preloading a graph.
#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

mod media_support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use centralino_runtime::Graph;
use centralino_runtime::engine::Media;
use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::prompt::{
    EncodedPrompt, PromptCache, PromptCacheConfig, PromptError, SpeechCommand, decode_file,
    load_pcm,
};
use media_support::{rms, tone_amplitude};

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/assets");

/// Writes a 16-bit WAV of `seconds` with one function per channel.
fn write_wav(path: &Path, rate: u32, seconds: f64, channels: &[&dyn Fn(f64) -> f64]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    let frames = (f64::from(rate) * seconds).round() as usize;
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        for channel in channels {
            writer
                .write_sample((channel(t) * 32767.0).round() as i16)
                .unwrap();
        }
    }
    writer.finalize().unwrap();
}

fn sine(freq: f64, amplitude: f64) -> impl Fn(f64) -> f64 {
    move |t| amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()
}

fn audio(path: &Path) -> Media {
    Media::Audio {
        path: path.to_str().unwrap().to_string(),
    }
}

fn cache(dir: &Path) -> PromptCache {
    PromptCache::new(PromptCacheConfig {
        speech: SpeechCommand {
            program: PathBuf::from("espeak-ng"),
            dir: dir.join("speech"),
            timeout: Duration::from_secs(30),
        },
        ..PromptCacheConfig::default()
    })
}

/// The PCM of a prompt's frames in one codec.
fn decode_frames(prompt: &EncodedPrompt, codec: Codec) -> Vec<i16> {
    prompt
        .frames(codec)
        .iter()
        .flat_map(|frame| codec.decode_to_vec(frame))
        .collect()
}

#[test]
fn an_8khz_wav_is_encoded_sample_for_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    write_wav(&path, 8000, 1.0, &[&sine(440.0, 0.3)]);
    let cache = cache(dir.path());
    let prompt = cache.get_or_load(&audio(&path)).unwrap();
    assert_eq!(prompt.duration_ms, 1000);
    assert_eq!(prompt.frame_count(), 50);
    assert_eq!(prompt.frames_pcma.len(), 50);
    assert_eq!(prompt.byte_size(), 2 * 50 * 160);

    let original = load_pcm(&path, 60).unwrap();
    assert_eq!(original.len(), 8000);
    for codec in Codec::ALL {
        let decoded = decode_frames(&prompt, codec);
        assert_eq!(decoded.len(), 8000);
        // Exactly G.711 of the original samples.
        assert_eq!(
            prompt.frames(codec).concat(),
            codec.encode_to_vec(&original),
            "{codec}"
        );
        let amplitude = tone_amplitude(&decoded, 440.0, 8000.0);
        assert!(
            (amplitude - 0.3 * 32767.0).abs() < 0.02 * 9830.0,
            "{codec}: {amplitude}"
        );
    }
}

#[test]
fn the_last_frame_is_padded_with_silence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.wav");
    // 0.25 s = 2000 samples = 12.5 frames.
    write_wav(&path, 8000, 0.25, &[&|_| 0.5]);
    let prompt = cache(dir.path()).get_or_load(&audio(&path)).unwrap();
    assert_eq!(prompt.frame_count(), 13);
    assert_eq!(prompt.duration_ms, 250);
    let last = prompt.frames_pcmu[12];
    assert!(
        last[..80]
            .iter()
            .all(|&b| b == Codec::Pcmu.encode_sample(16384))
    );
    assert!(last[80..].iter().all(|&b| b == 0xFF));
    assert!(prompt.frames_pcma[12][80..].iter().all(|&b| b == 0xD5));
}

#[test]
fn stereo_44k_is_mixed_to_mono_and_resampled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stereo.wav");
    // Left: 1 kHz; right: the same 1 kHz inverted plus 500 Hz. Mono: only 500 Hz at half level.
    let left = sine(1000.0, 0.4);
    let right = |t: f64| -sine(1000.0, 0.4)(t) + sine(500.0, 0.6)(t);
    write_wav(&path, 44100, 0.5, &[&left, &right]);

    let decoded = decode_file(&path, 60).unwrap();
    assert_eq!(decoded.sample_rate, 44100);
    assert_eq!(decoded.samples.len(), 22050);
    assert_eq!(decoded.duration_ms(), 500);

    let pcm = load_pcm(&path, 60).unwrap();
    assert_eq!(pcm.len(), 4000);
    let body = &pcm[400..3600];
    let at_500 = tone_amplitude(body, 500.0, 8000.0);
    let at_1000 = tone_amplitude(body, 1000.0, 8000.0);
    assert!(
        (at_500 - 0.3 * 32767.0).abs() < 0.03 * 9830.0,
        "500 Hz: {at_500}"
    );
    assert!(at_1000 < 50.0, "1 kHz cancelled: {at_1000}");
}

#[test]
fn resampling_is_band_limited() {
    // 48 kHz with 1 kHz and 6 kHz: 6 kHz is above the 4 kHz Nyquist of 8 kHz and would alias
    // to 2 kHz without an anti-aliasing filter.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alias.wav");
    let signal = |t: f64| sine(1000.0, 0.3)(t) + sine(6000.0, 0.3)(t);
    write_wav(&path, 48000, 1.0, &[&signal]);
    let pcm = load_pcm(&path, 60).unwrap();
    assert_eq!(pcm.len(), 8000);
    let body = &pcm[800..7200];
    let wanted = tone_amplitude(body, 1000.0, 8000.0);
    let alias = tone_amplitude(body, 2000.0, 8000.0);
    assert!((wanted - 9830.0).abs() < 300.0, "1 kHz: {wanted}");
    assert!(alias < wanted / 100.0, "2 kHz alias {alias} vs {wanted}");
}

#[test]
fn flac_and_ogg_assets_decode() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    // Made with: sox -n -r 22050 -c 1 tone440-22k.flac synth 0.5 sine 440 vol 0.5
    //            sox -n -r 16000 -c 2 tone440-16k-stereo.ogg synth 0.5 sine 440 vol 0.5
    for name in ["tone440-22k.flac", "tone440-16k-stereo.ogg"] {
        let path = Path::new(ASSETS).join(name);
        let prompt = cache.get_or_load(&audio(&path)).unwrap();
        assert!(
            (490..=510).contains(&prompt.duration_ms),
            "{name}: {}",
            prompt.duration_ms
        );
        let pcm = decode_frames(&prompt, Codec::Pcmu);
        let amplitude = tone_amplitude(&pcm[400..3600], 440.0, 8000.0);
        assert!((amplitude - 16384.0).abs() < 1000.0, "{name}: {amplitude}");
    }
    assert_eq!(cache.stats().entries, 2);
}

#[test]
fn concurrent_callers_share_one_decode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    write_wav(&path, 44100, 3.0, &[&sine(300.0, 0.5)]);
    let cache = Arc::new(cache(dir.path()));
    let media = audio(&path);
    let barrier = Arc::new(Barrier::new(16));
    let prompts: Vec<Arc<EncodedPrompt>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let cache = Arc::clone(&cache);
                let barrier = Arc::clone(&barrier);
                let media = media.clone();
                scope.spawn(move || {
                    barrier.wait();
                    cache.get_or_load(&media).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(prompts.iter().all(|p| Arc::ptr_eq(p, &prompts[0])));
    let stats = cache.stats();
    assert_eq!(stats.loads, 1, "{stats:?}");
    assert_eq!(stats.hits, 15, "{stats:?}");
    assert_eq!(stats.entries, 1);
    assert_eq!(stats.bytes, prompts[0].byte_size());
    assert_eq!(prompts[0].frame_count(), 150);
}

#[test]
fn errors_are_typed_and_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());

    let missing = dir.path().join("nope.wav");
    assert_eq!(
        cache.get_or_load(&audio(&missing)),
        Err(PromptError::Missing {
            path: missing.clone()
        })
    );
    assert!(matches!(
        cache.get_or_load(&audio(dir.path())),
        Err(PromptError::Unreadable { .. })
    ));

    let broken = dir.path().join("broken.wav");
    std::fs::write(&broken, "Benvenuti al centralino del Comune.\n".repeat(40)).unwrap();
    assert!(matches!(
        cache.get_or_load(&audio(&broken)),
        Err(PromptError::Undecodable { .. })
    ));
    assert_eq!(cache.stats().loads, 1);
    assert_eq!(cache.stats().entries, 0, "failures are not kept");

    // A WAV cut in the middle of its header.
    let cut = dir.path().join("cut.wav");
    write_wav(&cut, 8000, 0.5, &[&sine(440.0, 0.5)]);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..30]).unwrap();
    assert!(matches!(
        cache.get_or_load(&audio(&cut)),
        Err(PromptError::Undecodable { .. })
    ));

    // Repaired: the next request decodes it.
    write_wav(&broken, 8000, 0.2, &[&sine(440.0, 0.5)]);
    assert_eq!(
        cache.get_or_load(&audio(&broken)).unwrap().frame_count(),
        10
    );
    assert_eq!(cache.stats().loads, 3);
}

#[test]
fn garbage_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for ext in ["wav", "mp3", "flac", "ogg"] {
        for len in [1usize, 44, 100, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let path = dir.path().join(format!("g{len}.{ext}"));
            std::fs::write(&path, &bytes).unwrap();
            assert!(
                cache.get_or_load(&audio(&path)).is_err(),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn a_changed_file_is_decoded_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changing.wav");
    write_wav(&path, 8000, 0.4, &[&sine(440.0, 0.5)]);
    let cache = cache(dir.path());
    let first = cache.get_or_load(&audio(&path)).unwrap();
    assert!(Arc::ptr_eq(
        &first,
        &cache.get_or_load(&audio(&path)).unwrap()
    ));
    write_wav(&path, 8000, 0.8, &[&sine(440.0, 0.5)]);
    let second = cache.get_or_load(&audio(&path)).unwrap();
    assert_eq!(second.frame_count(), 40);
    assert_eq!(
        first.frame_count(),
        20,
        "a call playing the old one keeps it"
    );
    let stats = cache.stats();
    assert_eq!((stats.loads, stats.entries), (2, 1));
    assert_eq!(stats.bytes, second.byte_size());
}

#[test]
fn least_recently_used_prompts_are_evicted_beyond_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let path = dir.path().join(format!("{name}.wav"));
            write_wav(&path, 8000, 1.0, &[&sine(440.0, 0.5)]);
            path
        })
        .collect();
    // One second is 2 × 50 × 160 = 16,000 bytes; room for two.
    let cache = PromptCache::new(PromptCacheConfig {
        max_bytes: 40_000,
        ..PromptCacheConfig::default()
    });
    let a = cache.get_or_load(&audio(&paths[0])).unwrap();
    cache.get_or_load(&audio(&paths[1])).unwrap();
    cache.get_or_load(&audio(&paths[0])).unwrap(); // a is now more recent than b
    cache.get_or_load(&audio(&paths[2])).unwrap();
    let stats = cache.stats();
    assert_eq!(
        (stats.entries, stats.bytes, stats.evictions),
        (2, 32_000, 1)
    );
    assert_eq!(stats.loads, 3);
    // a stayed, b went.
    assert!(Arc::ptr_eq(
        &a,
        &cache.get_or_load(&audio(&paths[0])).unwrap()
    ));
    cache.get_or_load(&audio(&paths[1])).unwrap();
    assert_eq!(cache.stats().loads, 4);
    cache.clear();
    assert_eq!(cache.stats().entries, 0);
    assert_eq!(cache.stats().bytes, 0);
}

#[test]
fn relative_paths_resolve_from_the_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("prompts")).unwrap();
    write_wav(
        &dir.path().join("prompts/ciao.wav"),
        8000,
        0.1,
        &[&sine(440.0, 0.5)],
    );
    let cache = PromptCache::new(PromptCacheConfig {
        base_dir: Some(dir.path().to_path_buf()),
        ..PromptCacheConfig::default()
    });
    let media = Media::Audio {
        path: "prompts/ciao.wav".to_string(),
    };
    assert_eq!(cache.get_or_load(&media).unwrap().frame_count(), 5);
}

#[test]
fn voices_per_language() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    assert_eq!(cache.voice_for("it").unwrap(), "it");
    assert_eq!(cache.voice_for("en").unwrap(), "en");
    assert_eq!(cache.voice_for("en-GB").unwrap(), "en");
    assert_eq!(cache.voice_for("de").unwrap(), "it", "the default voice");
    let strict = PromptCache::new(PromptCacheConfig {
        default_voice: None,
        ..PromptCacheConfig::default()
    });
    assert_eq!(
        strict.voice_for("de"),
        Err(PromptError::NoVoice {
            language: "de".to_string()
        })
    );
    assert_eq!(
        strict.get_or_load(&Media::Speech {
            text: "Hallo".to_string(),
            language: "de".to_string()
        }),
        Err(PromptError::NoVoice {
            language: "de".to_string()
        })
    );
    assert_eq!(
        cache.get_or_load(&Media::Speech {
            text: "  ".to_string(),
            language: "it".to_string()
        }),
        Err(PromptError::EmptyText)
    );
}

#[test]
fn speech_without_espeak_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = PromptCache::new(PromptCacheConfig {
        speech: SpeechCommand {
            program: dir.path().join("no-such-espeak"),
            dir: dir.path().join("speech"),
            timeout: Duration::from_secs(5),
        },
        ..PromptCacheConfig::default()
    });
    let result = cache.get_or_load(&Media::Speech {
        text: "Buongiorno".to_string(),
        language: "it".to_string(),
    });
    assert!(
        matches!(result, Err(PromptError::SpeechUnavailable { .. })),
        "{result:?}"
    );
    // A bad voice name never reaches the command line.
    let cache = PromptCache::new(PromptCacheConfig {
        voices: [("it".to_string(), "--help".to_string())].into(),
        ..PromptCacheConfig::default()
    });
    assert_eq!(
        cache.get_or_load(&Media::Speech {
            text: "Buongiorno".to_string(),
            language: "it".to_string()
        }),
        Err(PromptError::InvalidVoice {
            voice: "--help".to_string()
        })
    );
}

#[test]
fn speech_is_rendered_once_and_kept_on_disk() {
    if !media_support::have_program("espeak-ng") {
        eprintln!("note: espeak-ng not installed (apt-get install espeak-ng); skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let text = "-v en Benvenuto nel Comune di Perugia. Per informazioni premi uno.";
    let media = Media::Speech {
        text: text.to_string(),
        language: "it".to_string(),
    };
    let prompt = cache.get_or_load(&media).unwrap();
    assert!(
        (2000..10_000).contains(&prompt.duration_ms),
        "{} ms",
        prompt.duration_ms
    );
    let pcm = decode_frames(&prompt, Codec::Pcma);
    assert!(rms(&pcm) > 1000.0, "speech is audible: rms {}", rms(&pcm));
    let wavs: Vec<_> = std::fs::read_dir(dir.path().join("speech"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(wavs.len(), 1, "{wavs:?}");
    assert!(
        wavs[0].starts_with("tts-it-") && wavs[0].ends_with(".wav"),
        "{wavs:?}"
    );

    // Same text in English: another voice, another file.
    let english = cache
        .get_or_load(&Media::Speech {
            text: text.to_string(),
            language: "en".to_string(),
        })
        .unwrap();
    assert!(!Arc::ptr_eq(&prompt, &english));
    assert_eq!(
        std::fs::read_dir(dir.path().join("speech"))
            .unwrap()
            .count(),
        2
    );

    // A new cache (a restart) finds the WAV and does not need the synthesizer.
    let restarted = PromptCache::new(PromptCacheConfig {
        speech: SpeechCommand {
            program: dir.path().join("no-such-espeak"),
            dir: dir.path().join("speech"),
            timeout: Duration::from_secs(5),
        },
        ..PromptCacheConfig::default()
    });
    let again = restarted.get_or_load(&media).unwrap();
    assert_eq!(again.frames_pcmu, prompt.frames_pcmu);
}

fn graph(prompts: serde_json::Value) -> Graph {
    serde_json::from_value(serde_json::json!({
        "format_version": 1,
        "content_hash": "sha256:0",
        "sources": [],
        "numbers": {},
        "flows": [],
        "nodes": [],
        "prompts": prompts,
        "calendars": {},
        "offices": {},
        "categories": {},
        "services": {},
    }))
    .unwrap()
}

#[test]
fn preload_loads_every_audio_prompt_once() {
    let dir = tempfile::tempdir().unwrap();
    let welcome = dir.path().join("benvenuto.wav");
    let menu = dir.path().join("menu.wav");
    write_wav(&welcome, 16000, 0.5, &[&sine(440.0, 0.5)]);
    write_wav(&menu, 8000, 0.3, &[&sine(440.0, 0.5)]);
    let audio_body = |path: &Path| serde_json::json!({"kind": "audio", "path": path.to_str().unwrap(), "duration_ms": 500, "sha256": "x"});
    let graph = graph(serde_json::json!({
        "benvenuto": {"variants": {
            "it": audio_body(&welcome),
            "en": {"kind": "text", "template": "Welcome", "variables": []},
        }},
        "menu": {"variants": {"*": audio_body(&menu)}},
        "menu_bis": {"variants": {"*": audio_body(&menu)}},
        "perso": {"variants": {"it": audio_body(&dir.path().join("perso.wav"))}},
    }));
    let cache = cache(dir.path());
    let report = cache.preload(&graph);
    assert_eq!(report.loaded, 2);
    assert_eq!(report.failed.len(), 1);
    let (name, language, err) = &report.failed[0];
    assert_eq!((name.as_str(), language.as_str()), ("perso", "it"));
    assert!(matches!(err, PromptError::Missing { .. }));
    // Two decodes: the missing file fails before any.
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.loads), (2, 2));
    // Calls now find them loaded.
    cache.get_or_load(&audio(&welcome)).unwrap();
    assert_eq!(cache.stats().loads, 2);
}

#[test]
fn error_messages_name_the_file() {
    let err = PromptError::Missing {
        path: PathBuf::from("prompts/benvenuto.wav"),
    };
    assert_eq!(
        err.to_string(),
        "audio file not found: prompts/benvenuto.wav"
    );
    assert_eq!(
        PromptError::NoVoice {
            language: "fr".to_string()
        }
        .to_string(),
        "no text-to-speech voice for language `fr`"
    );
}
