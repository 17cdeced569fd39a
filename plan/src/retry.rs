//! Retry policies: which failures are retried, the wait before each retry
//! (fixed or exponential by a factor, capped, spread by a jitter), the total
//! time limit, and the decision after a failed attempt.
//!
//! Everything here is a pure function of the policy, the attempt, the failure
//! and the time since the first attempt started; the runtime supplies the
//! clock and a seed, so the same run always draws the same jitter.

use serde::{Deserialize, Serialize};

/// `retry N [on …] [backoff fixed|exponential D [factor F] [max D] [jitter P%]]
/// [max_duration D]`: up to `count` retries after the first attempt, so at
/// most `count + 1` attempts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first attempt.
    pub count: u32,
    /// How the wait grows between attempts.
    #[serde(default)]
    pub backoff: Backoff,
    /// The wait before the first retry, in ms (0: at once).
    #[serde(default)]
    pub delay_ms: u64,
    /// The cap on any wait, in ms; `None`: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
    /// What each exponential wait is multiplied by; `None`: [`DEFAULT_FACTOR`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// Each wait is spread at random by up to ± this percentage (0 to 100);
    /// `None`: no spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_pct: Option<u32>,
    /// The failures retried; `None`: every failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<RetryOn>,
    /// No attempt starts once this many ms have passed since the first
    /// attempt started, and a wait that would end past it is not waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_ms: Option<u64>,
}

/// The factor of exponential backoff when none is written: each wait doubles.
pub const DEFAULT_FACTOR: f64 = 2.0;

/// How the wait between retries grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Every wait is `delay_ms`.
    #[default]
    Fixed,
    /// The wait is multiplied by the factor with each retry.
    Exponential,
}

/// `on exit CODE, … [or timeout]`: the failures a policy retries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryOn {
    /// A command exiting with one of these statuses is retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_codes: Vec<i32>,
    /// A step stopped by its timeout is retried.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
}

/// How an attempt failed, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The command exited with this non-zero status.
    Exit(i32),
    /// The step's timeout stopped it.
    Timeout,
    /// Anything else: a signal, a command that could not start, a bad output.
    Error,
}

impl Failure {
    /// The word recorded as a retry's reason: `exit`, `timeout` or `error`.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Exit(_) => "exit",
            Failure::Timeout => "timeout",
            Failure::Error => "error",
        }
    }

    /// The failure in words, for saying it is not retried.
    fn describe(self) -> String {
        match self {
            Failure::Exit(code) => format!("exit {code}"),
            Failure::Timeout => "a timeout".into(),
            Failure::Error => "an error without an exit status".into(),
        }
    }
}

/// Why a failed attempt is the last one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The policy's `on` does not name this failure.
    NotRetried(Failure),
    /// Every retry was spent.
    Attempts,
    /// `max_duration` has passed, or would pass during the wait.
    MaxDuration,
}

impl Stop {
    /// What the `failed` event records as `no_retry`: `attempts`,
    /// `max_duration`, or `exit 2 is not retried` (and the like).
    pub fn text(&self) -> String {
        match self {
            Stop::NotRetried(f) => format!("{} is not retried", f.describe()),
            Stop::Attempts => "attempts".into(),
            Stop::MaxDuration => "max_duration".into(),
        }
    }
}

/// What follows a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The next attempt starts after this many ms.
    Retry {
        /// The wait before the next attempt.
        delay_ms: u64,
    },
    /// No attempt follows.
    Stop(Stop),
}

impl Retry {
    /// Whether the policy retries this failure (every failure without `on`).
    pub fn retries(&self, failure: Failure) -> bool {
        match (&self.on, failure) {
            (None, _) => true,
            (Some(on), Failure::Exit(code)) => on.exit_codes.contains(&code),
            (Some(on), Failure::Timeout) => on.timeout,
            (Some(_), Failure::Error) => false,
        }
    }

    /// The wait before attempt `next` (2, 3, …) before any jitter: `delay`
    /// for fixed backoff, `delay · factor^(next-2)` for exponential, capped
    /// at `max`.
    pub fn base_delay_before(&self, next: u32) -> u64 {
        let raw = match self.backoff {
            Backoff::Fixed => self.delay_ms,
            Backoff::Exponential => {
                let factor = self.factor.unwrap_or(DEFAULT_FACTOR).max(1.0);
                let grown = self.delay_ms as f64 * factor.powi(next.saturating_sub(2).min(1000) as i32);
                if grown.is_finite() && grown < u64::MAX as f64 { grown.round() as u64 } else { u64::MAX }
            }
        };
        match self.max_ms {
            Some(max) => raw.min(max),
            None => raw,
        }
    }

    /// The wait before attempt `next`, spread by the jitter: the base delay
    /// times a factor in `[1 - P%, 1 + P%]` drawn from `seed` and `next`
    /// (the same seed draws the same waits), still capped at `max`.
    pub fn delay_before(&self, next: u32, seed: u64) -> u64 {
        let base = self.base_delay_before(next);
        let pct = self.jitter_pct.unwrap_or(0).min(100);
        if pct == 0 || base == 0 {
            return base;
        }
        // A uniform draw in [-1, 1].
        let unit = (splitmix64(seed ^ u64::from(next).wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64 / (1u64 << 53) as f64;
        let spread = (unit * 2.0 - 1.0) * f64::from(pct) / 100.0;
        let jittered = (base as f64 * (1.0 + spread)).round().max(0.0);
        let jittered = if jittered < u64::MAX as f64 { jittered as u64 } else { u64::MAX };
        match self.max_ms {
            Some(max) => jittered.min(max),
            None => jittered,
        }
    }

    /// The shortest wait the jitter can draw before attempt `next`.
    pub fn min_delay_before(&self, next: u32) -> u64 {
        let base = self.base_delay_before(next);
        let pct = u64::from(self.jitter_pct.unwrap_or(0).min(100));
        base - (base as u128 * u128::from(pct) / 100) as u64
    }

    /// How many retries can start within `max_duration` at best (attempts
    /// taking no time, every wait its shortest); `count` without a limit.
    pub fn retries_within_max_duration(&self) -> u32 {
        let Some(limit) = self.max_duration_ms else { return self.count };
        let mut waited: u64 = 0;
        for k in 0..self.count {
            waited = waited.saturating_add(self.min_delay_before(k + 2));
            if waited >= limit {
                return k;
            }
        }
        self.count
    }

    /// What follows failed attempt `attempt` (1, 2, …) with `failure`, when
    /// `elapsed_ms` have passed since the first attempt started.
    pub fn decide(&self, attempt: u32, failure: Failure, elapsed_ms: u64, seed: u64) -> Verdict {
        if !self.retries(failure) {
            return Verdict::Stop(Stop::NotRetried(failure));
        }
        if attempt > self.count {
            return Verdict::Stop(Stop::Attempts);
        }
        let delay_ms = self.delay_before(attempt + 1, seed);
        if let Some(limit) = self.max_duration_ms
            && elapsed_ms.saturating_add(delay_ms) >= limit
        {
            return Verdict::Stop(Stop::MaxDuration);
        }
        Verdict::Retry { delay_ms }
    }
}

/// A well-mixed 64-bit value of `x` (SplitMix64's finalizer).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for the jitter of one step of one run: the same run and step
/// always draw the same waits.
pub fn jitter_seed(run: &str, step: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in run.bytes().chain(step.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(count: u32, backoff: Backoff, delay_ms: u64) -> Retry {
        Retry { count, backoff, delay_ms, max_ms: None, factor: None, jitter_pct: None, on: None, max_duration_ms: None }
    }

    #[test]
    fn fixed_waits_the_delay_and_exponential_multiplies_by_the_factor() {
        let f = policy(3, Backoff::Fixed, 100);
        assert_eq!((2..=4).map(|n| f.delay_before(n, 7)).collect::<Vec<_>>(), [100, 100, 100]);
        let e = policy(5, Backoff::Exponential, 100);
        assert_eq!((2..=5).map(|n| e.delay_before(n, 7)).collect::<Vec<_>>(), [100, 200, 400, 800]);
        let three = Retry { factor: Some(3.0), ..e.clone() };
        assert_eq!((2..=5).map(|n| three.delay_before(n, 7)).collect::<Vec<_>>(), [100, 300, 900, 2700]);
        let half = Retry { factor: Some(1.5), ..e.clone() };
        assert_eq!((2..=4).map(|n| half.delay_before(n, 7)).collect::<Vec<_>>(), [100, 150, 225]);
    }

    #[test]
    fn max_caps_every_wait_and_huge_growth_saturates() {
        let e = Retry { max_ms: Some(350), ..policy(5, Backoff::Exponential, 100) };
        assert_eq!((2..=5).map(|n| e.delay_before(n, 1)).collect::<Vec<_>>(), [100, 200, 350, 350]);
        let big = Retry { factor: Some(1e9), ..policy(u32::MAX, Backoff::Exponential, u64::MAX / 2) };
        assert_eq!(big.delay_before(u32::MAX, 1), u64::MAX);
        assert_eq!(big.delay_before(900, 1), u64::MAX);
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_under_max_and_repeats_for_a_seed() {
        let j = Retry { jitter_pct: Some(20), ..policy(50, Backoff::Fixed, 1000) };
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200u64 {
            for next in 2..=51 {
                let d = j.delay_before(next, seed);
                assert!((800..=1200).contains(&d), "{d} outside 1000 ± 20%");
                assert_eq!(d, j.delay_before(next, seed), "the same seed draws the same wait");
                seen.insert(d);
            }
        }
        assert!(seen.len() > 100, "the waits are spread: {} distinct", seen.len());
        assert!(seen.iter().any(|&d| d < 1000) && seen.iter().any(|&d| d > 1000));
        let capped = Retry { max_ms: Some(1000), ..j.clone() };
        assert!((0..100).all(|seed| (800..=1000).contains(&capped.delay_before(2, seed))));
        let full = Retry { jitter_pct: Some(100), ..j.clone() };
        assert!((0..100).all(|seed| full.delay_before(2, seed) <= 2000));
        assert_eq!(j.min_delay_before(2), 800);
        assert_eq!(full.min_delay_before(2), 0);
        assert_ne!(jitter_seed("run-1", 0), jitter_seed("run-1", 1));
        assert_ne!(jitter_seed("run-1", 0), jitter_seed("run-2", 0));
    }

    #[test]
    fn on_names_the_failures_retried() {
        let any = policy(3, Backoff::Fixed, 0);
        assert!(any.retries(Failure::Exit(2)) && any.retries(Failure::Timeout) && any.retries(Failure::Error));
        let exits = Retry { on: Some(RetryOn { exit_codes: vec![75, 111], timeout: false }), ..any.clone() };
        assert!(exits.retries(Failure::Exit(75)) && exits.retries(Failure::Exit(111)));
        assert!(!exits.retries(Failure::Exit(2)) && !exits.retries(Failure::Timeout) && !exits.retries(Failure::Error));
        assert_eq!(exits.decide(1, Failure::Exit(2), 0, 0), Verdict::Stop(Stop::NotRetried(Failure::Exit(2))));
        assert_eq!(Stop::NotRetried(Failure::Exit(2)).text(), "exit 2 is not retried");
        let timeout = Retry { on: Some(RetryOn { exit_codes: vec![], timeout: true }), ..any.clone() };
        assert!(timeout.retries(Failure::Timeout) && !timeout.retries(Failure::Exit(75)));
        assert_eq!(Stop::NotRetried(Failure::Timeout).text(), "a timeout is not retried");
    }

    #[test]
    fn the_count_then_max_duration_end_the_retries() {
        let r = Retry { max_duration_ms: Some(1000), ..policy(3, Backoff::Fixed, 100) };
        assert_eq!(r.decide(1, Failure::Exit(1), 0, 0), Verdict::Retry { delay_ms: 100 });
        assert_eq!(r.decide(3, Failure::Exit(1), 500, 0), Verdict::Retry { delay_ms: 100 });
        assert_eq!(r.decide(4, Failure::Exit(1), 500, 0), Verdict::Stop(Stop::Attempts));
        // The wait would end past the limit: not waited.
        assert_eq!(r.decide(2, Failure::Exit(1), 950, 0), Verdict::Stop(Stop::MaxDuration));
        assert_eq!(r.decide(2, Failure::Exit(1), 1000, 0), Verdict::Stop(Stop::MaxDuration));
        assert_eq!(r.decide(2, Failure::Exit(1), 899, 0), Verdict::Retry { delay_ms: 100 });
    }

    #[test]
    fn retries_within_max_duration_counts_the_shortest_waits() {
        let r = Retry { max_duration_ms: Some(1000), ..policy(5, Backoff::Exponential, 100) };
        // 100 + 200 + 400 = 700 < 1000, + 800 passes it.
        assert_eq!(r.retries_within_max_duration(), 3);
        let j = Retry { jitter_pct: Some(50), ..r.clone() };
        // 50 + 100 + 200 + 400 = 750, + 800 passes it.
        assert_eq!(j.retries_within_max_duration(), 4);
        assert_eq!(Retry { max_duration_ms: Some(100), ..r.clone() }.retries_within_max_duration(), 0);
        assert_eq!(policy(5, Backoff::Fixed, 100).retries_within_max_duration(), 5);
        let at_once = Retry { max_duration_ms: Some(10), ..policy(5, Backoff::Fixed, 0) };
        assert_eq!(at_once.retries_within_max_duration(), 5);
    }

    #[test]
    fn older_plans_without_the_new_fields_load() {
        let r: Retry = serde_json::from_str(r#"{"count":2,"backoff":"exponential","delay_ms":100,"max_ms":350}"#).unwrap();
        assert_eq!(r, Retry { max_ms: Some(350), ..policy(2, Backoff::Exponential, 100) });
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"count":2,"backoff":"exponential","delay_ms":100,"max_ms":350}"#);
    }
}
