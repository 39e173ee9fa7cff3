//! In-band DTMF: Goertzel filters at the eight DTMF frequencies over 8 kHz PCM.
//!
//! No maintained crate does this for telephone audio (the DTMF crates seen are generators or
//! unmaintained), and it is a few dozen lines: the classic design of spandsp and Asterisk.
//! Audio is cut into blocks of 102 samples (12.75 ms; at this length adjacent DTMF rows leak
//! about −22 dB into each other). A block holds a key when:
//! - the strongest row and column tones are both above a level ([`InbandConfig::min_amplitude`]),
//! - they are at least 6 dB above the other rows / columns ([`InbandConfig::relative_peak_db`]),
//! - the twist (row vs column level) is within limits (row up to 8 dB above the column, column
//!   up to 4 dB above the row),
//! - together they hold most of the block's energy ([`InbandConfig::energy_ratio`]: speech and
//!   music spread theirs).
//!
//! A key is reported when [`InbandConfig::min_blocks`] consecutive blocks hold it (2 blocks: any
//! tone of 40 ms or more, however it falls on the blocks, covers two full blocks; a 20 ms blip
//! never does), and once per press: the press ends after [`InbandConfig::misses_to_end`] blocks
//! without it (2 blocks: the 40 ms minimum pause between keys always covers two).

/// Samples per Goertzel block.
pub const BLOCK: usize = 102;

/// The four row (low group) then the four column (high group) frequencies.
const FREQS: [f32; 8] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Detection thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct InbandConfig {
    /// Each of the two tones must reach this peak amplitude (in 16-bit sample units; 250 is
    /// about −42 dBFS, well under the −25 dBm0 a receiver must accept).
    pub min_amplitude: f32,
    /// The row tone may be this many dB stronger than the column tone ("normal twist").
    pub max_normal_twist_db: f32,
    /// The column tone may be this many dB stronger than the row tone ("reverse twist").
    pub max_reverse_twist_db: f32,
    /// The best row (column) must beat every other row (column) by this much.
    pub relative_peak_db: f32,
    /// The two tones' share of the block's energy.
    pub energy_ratio: f32,
    /// Consecutive blocks with the key before it is reported.
    pub min_blocks: u32,
    /// Blocks without the key that end a press.
    pub misses_to_end: u32,
}

impl Default for InbandConfig {
    fn default() -> Self {
        InbandConfig {
            min_amplitude: 250.0,
            max_normal_twist_db: 8.0,
            max_reverse_twist_db: 4.0,
            relative_peak_db: 6.0,
            energy_ratio: 0.6,
            min_blocks: 2,
            misses_to_end: 2,
        }
    }
}

/// Streaming detector for one direction of one call.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    config: InbandConfig,
    /// Goertzel coefficients of the 4 rows then the 4 columns.
    coeffs: [f32; 8],
    /// The eight filters' last two states, after a block was filtered.
    s1: [f32; 8],
    s2: [f32; 8],
    /// The block so far.
    block: [i16; BLOCK],
    /// Σx² of the block so far.
    energy: i64,
    /// Below this block energy no key can be found: the filters are not run (see [`gate`]).
    gate: f32,
    filled: usize,
    current: Option<char>,
    hits: u32,
    misses: u32,
    reported: bool,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new(InbandConfig::default())
    }
}

fn coeff(freq: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq / crate::media::SAMPLE_RATE as f32).cos()
}

/// The block energy under which no key can pass the level test. A filter's power is at most
/// N·Σx² (Cauchy–Schwarz: |Σ x[n]·e^(−jωn)|² ≤ N·Σ x[n]²), and a key needs both tones at
/// (A·N/2)² or more, so a block with Σx² < A²·N/4 holds none; half of that, against rounding.
fn gate(config: &InbandConfig) -> f32 {
    let a = config.min_amplitude;
    a * a * BLOCK as f32 / 8.0
}

fn db_ratio(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

impl InbandDetector {
    pub fn new(config: InbandConfig) -> Self {
        InbandDetector {
            coeffs: FREQS.map(coeff),
            s1: [0.0; 8],
            s2: [0.0; 8],
            block: [0; BLOCK],
            energy: 0,
            gate: gate(&config),
            config,
            filled: 0,
            current: None,
            hits: 0,
            misses: 0,
            reported: false,
        }
    }

    pub fn config(&self) -> &InbandConfig {
        &self.config
    }

    /// Feeds 8 kHz PCM (any length); each key press found is appended to `out` once.
    pub fn push(&mut self, pcm: &[i16], out: &mut Vec<char>) {
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (BLOCK - self.filled).min(rest.len());
            let (chunk, after) = rest.split_at(take);
            rest = after;
            if let Some(slots) = self.block.get_mut(self.filled..self.filled + take) {
                slots.copy_from_slice(chunk);
            }
            // Exact in integers (and vectorized): Σx² of a block fits an i64 many times over.
            self.energy += chunk
                .iter()
                .map(|&x| i64::from(x) * i64::from(x))
                .sum::<i64>();
            self.filled += take;
            if self.filled >= BLOCK {
                // Silence and quiet audio (most of what callers send) cost the sum of squares.
                let key = if (self.energy as f32) < self.gate {
                    None
                } else {
                    self.filter_block();
                    self.classify()
                };
                self.filled = 0;
                self.energy = 0;
                if let Some(digit) = self.track(key) {
                    out.push(digit);
                }
            }
        }
    }

    /// The eight Goertzel filters over the block, advanced together sample by sample
    /// (independent lanes, so the compiler vectorizes them).
    fn filter_block(&mut self) {
        let mut s1 = [0.0f32; 8];
        let mut s2 = [0.0f32; 8];
        for &sample in &self.block {
            let x = f32::from(sample);
            for ((s1, s2), c) in s1.iter_mut().zip(s2.iter_mut()).zip(self.coeffs) {
                let s0 = x + c * *s1 - *s2;
                *s2 = *s1;
                *s1 = s0;
            }
        }
        self.s1 = s1;
        self.s2 = s2;
    }

    /// The key a full block holds, if any.
    fn classify(&self) -> Option<char> {
        let n = BLOCK as f32;
        // Goertzel power |X(f)|² of each filter.
        let power = |i: usize| {
            let (s1, s2, c) = (self.s1[i], self.s2[i], self.coeffs[i]);
            (s1 * s1 + s2 * s2 - c * s1 * s2).max(0.0)
        };
        let rows = [0, 1, 2, 3].map(power);
        let cols = [4, 5, 6, 7].map(power);
        let (best_row, row_power) = strongest(&rows)?;
        let (best_col, col_power) = strongest(&cols)?;

        // A sine of amplitude A gives |X|² ≈ (A·N/2)².
        let min_power = (self.config.min_amplitude * n / 2.0).powi(2);
        if row_power < min_power || col_power < min_power {
            return None;
        }
        if row_power > col_power * db_ratio(self.config.max_normal_twist_db)
            || col_power > row_power * db_ratio(self.config.max_reverse_twist_db)
        {
            return None;
        }
        let peak = db_ratio(self.config.relative_peak_db);
        let dominates = |powers: &[f32; 4], best: usize, power: f32| {
            powers
                .iter()
                .enumerate()
                .all(|(i, &p)| i == best || p * peak <= power)
        };
        if !dominates(&rows, best_row, row_power) || !dominates(&cols, best_col, col_power) {
            return None;
        }
        // Energy of a tone from its power: Σx² ≈ N·A²/2 = 2·|X|²/N.
        let tones = 2.0 * (row_power + col_power) / n;
        if tones < self.config.energy_ratio * self.energy as f32 {
            return None;
        }
        KEYS.get(best_row)?.get(best_col).copied()
    }

    /// The press state machine: report a key once per press.
    fn track(&mut self, key: Option<char>) -> Option<char> {
        match key {
            Some(k) if self.current == Some(k) => {
                self.hits = self.hits.saturating_add(1);
                self.misses = 0;
            }
            Some(k) => {
                self.current = Some(k);
                self.hits = 1;
                self.misses = 0;
                self.reported = false;
            }
            None => {
                self.misses = self.misses.saturating_add(1);
                if !self.reported {
                    self.hits = 0;
                }
                if self.misses >= self.config.misses_to_end {
                    self.current = None;
                    self.hits = 0;
                    self.reported = false;
                }
                return None;
            }
        }
        if !self.reported && self.hits >= self.config.min_blocks {
            self.reported = true;
            return self.current;
        }
        None
    }
}

fn strongest(powers: &[f32; 4]) -> Option<(usize, f32)> {
    powers
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Every key press in a whole recording (8 kHz PCM), in order.
pub fn detect_all(pcm: &[i16]) -> String {
    let mut detector = InbandDetector::default();
    let mut out = Vec::new();
    detector.push(pcm, &mut out);
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DTMF key at `amplitude` per tone (8 kHz), `ms` long, plus a little noise.
    fn key(key: char, amplitude: f32, ms: usize, seed: &mut u32) -> Vec<i16> {
        let (row, col) = KEYS
            .iter()
            .enumerate()
            .find_map(|(r, keys)| keys.iter().position(|k| *k == key).map(|c| (r, c)))
            .unwrap_or((0, 0));
        let (f1, f2) = (FREQS[row], FREQS[4 + col]);
        (0..ms * 8)
            .map(|n| {
                let t = n as f32 / 8000.0;
                *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (*seed >> 24) as f32 - 128.0;
                let x = amplitude * (2.0 * std::f32::consts::PI * f1 * t).sin()
                    + amplitude * (2.0 * std::f32::consts::PI * f2 * t).sin()
                    + noise * amplitude / 400.0;
                x.clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    fn detect(detector: &mut InbandDetector, pcm: &[i16]) -> String {
        let mut out = Vec::new();
        // In packet-sized pieces, as a leg feeds it.
        for piece in pcm.chunks(160) {
            detector.push(piece, &mut out);
        }
        out.into_iter().collect()
    }

    /// The energy gate only skips work: with and without it, the same keys are found, for
    /// levels from far under the detection level to well over it, and for silence.
    #[test]
    fn the_energy_gate_never_changes_what_is_detected() {
        let mut seed = 7;
        let mut found_any = false;
        let mut missed_any = false;
        for amplitude in [
            0.0, 40.0, 120.0, 180.0, 230.0, 250.0, 270.0, 320.0, 800.0, 6000.0,
        ] {
            let mut pcm = Vec::new();
            for k in ['1', '5', '9', '#', '0', 'D'] {
                pcm.extend(key(k, amplitude, 60, &mut seed));
                pcm.extend(std::iter::repeat_n(0i16, 8 * 50));
            }
            let mut gated = InbandDetector::default();
            let mut ungated = InbandDetector {
                gate: 0.0,
                ..InbandDetector::default()
            };
            let with_gate = detect(&mut gated, &pcm);
            let without = detect(&mut ungated, &pcm);
            assert_eq!(with_gate, without, "amplitude {amplitude}");
            found_any |= with_gate == "159#0D";
            missed_any |= with_gate.is_empty();
        }
        // The levels tried straddle the detection level, so both outcomes were seen.
        assert!(found_any && missed_any);
    }
}
