//! The figures, the budgets they are held to, and `bench/results.md` and `bench/results.json`.

use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

use super::{CallCounts, Class, Options};

pub(super) fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}

/// The median of several runs, with the least and the most.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Spread {
    pub fn of(durations: &[Duration]) -> Spread {
        let mut sorted: Vec<f64> = durations.iter().copied().map(ms).collect();
        sorted.sort_by(f64::total_cmp);
        Spread {
            median: sorted.get(sorted.len() / 2).copied().unwrap_or_default(),
            min: sorted.first().copied().unwrap_or_default(),
            max: sorted.last().copied().unwrap_or_default(),
            runs: sorted.len(),
        }
    }
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WarmReport {
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The p50 of the time of the AWS calls of each request, as the proxy times them (the authorizer's included).
    pub raw_p50_ms: f64,
    /// The p50 of each request's deliberate work: its argon2id operations, each as long as one timed in this run.
    pub work_p50_ms: f64,
    /// `p50_ms / (raw_p50_ms + work_p50_ms)`; none when the function makes no AWS call.
    pub overhead: Option<f64>,
    /// The handler's calls per request: the most of each kind over all requests.
    pub calls: CallCounts,
    pub peak_rss_bytes: Option<u64>,
    /// Answers that were not the expected success (the first few).
    pub unexpected: Vec<String>,
}

impl WarmReport {
    pub fn new(
        latencies: &[Duration],
        raws: &[Duration],
        works: &[Duration],
        calls: CallCounts,
        unexpected: Vec<String>,
        peak_rss_bytes: Option<u64>,
    ) -> WarmReport {
        let sorted = |values: &[Duration]| {
            let mut sorted: Vec<f64> = values.iter().copied().map(ms).collect();
            sorted.sort_by(f64::total_cmp);
            sorted
        };
        let latencies = sorted(latencies);
        let raws = sorted(raws);
        let works = sorted(works);
        let p50 = percentile(&latencies, 0.5);
        let raw_p50 = percentile(&raws, 0.5);
        let work_p50 = percentile(&works, 0.5);
        WarmReport {
            requests: latencies.len(),
            p50_ms: p50,
            p99_ms: percentile(&latencies, 0.99),
            raw_p50_ms: raw_p50,
            work_p50_ms: work_p50,
            overhead: (raw_p50 > 0.0).then(|| (p50 / (raw_p50 + work_p50) * 100.0).round() / 100.0),
            calls,
            peak_rss_bytes,
            unexpected,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FunctionReport {
    pub function: String,
    /// Which of the function's requests the row measures, when it has several (the grant of `authenticate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub class: Option<Class>,
    pub size_x86_64: Option<u64>,
    pub size_arm64: Option<u64>,
    pub zip_arm64: Option<u64>,
    /// Process start to the first answer.
    pub cold_ms: Option<Spread>,
    /// The emulator's time for the AWS calls of that first request.
    pub cold_emulator_ms: Option<Spread>,
    /// That first request's deliberate work (argon2id): the same operations timed in a fresh process after each
    /// run (the median).
    pub cold_work_ms: Option<f64>,
    /// `cold_ms` less `cold_emulator_ms` and `cold_work_ms`: the function's own start and handling.
    pub cold_own_ms: Option<Spread>,
    /// The HTTP status the sample event got in the cold runs (a run's that was not a 2xx, if any).
    pub cold_status: Option<u16>,
    /// For a function measured only cold (class `once`): the most calls of a run's request, and its peak RSS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_calls: Option<CallCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_rss_bytes: Option<u64>,
    pub warm: Option<WarmReport>,
    pub misses: Vec<String>,
}

/// The README's budgets; a miss is a bug.
#[derive(Debug, Clone, Serialize)]
pub struct Budgets {
    pub size_x86_64_bytes: u64,
    pub cold_own_vs_floor: f64,
    pub peak_rss_bytes: u64,
    pub warm_overhead: f64,
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets {
            size_x86_64_bytes: 6_000_000,
            cold_own_vs_floor: 3.0,
            peak_rss_bytes: 40 * 1024 * 1024,
            warm_overhead: 1.3,
        }
    }
}

/// The most calls of each kind a request may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CallBudget {
    reads: u32,
    queries: u32,
    /// Writes and transactions.
    writes: u32,
    sends: u32,
    /// KMS signatures.
    signs: u32,
}

const fn budget(reads: u32, queries: u32, writes: u32, sends: u32, signs: u32) -> CallBudget {
    CallBudget {
        reads,
        queries,
        writes,
        sends,
        signs,
    }
}

/// What a request of the class may make.
fn class_budget(class: Class) -> Option<CallBudget> {
    match class {
        Class::Read | Class::Authorizer => Some(budget(1, 0, 0, 0, 0)),
        Class::Listing => Some(budget(0, 2, 0, 0, 0)),
        Class::Change | Class::Resend => Some(budget(1, 0, 1, 1, 0)),
        // The user, session or key in one read, at most one write, and the access token's signature.
        Class::SignIn => Some(budget(1, 0, 1, 0, 1)),
        // Whether any backoffice user exists (a listing's page and count), then the claim, the user, its email's
        // guard and the invitation in one transaction, and the email.
        Class::Once => Some(budget(0, 2, 1, 1, 0)),
        Class::Pipeline | Class::Floor => None,
    }
}

/// What a request of the function (and scenario) may make: its class's budget, but where a function needs another.
fn call_budget(report: &FunctionReport) -> Option<CallBudget> {
    match (report.function.as_str(), report.scenario.as_deref()) {
        // An email names no item: its guard is read first, then the user with its pending sign-in code; the new
        // code is written and sent by SMS, and the PRE_AUTH token signed.
        ("authenticate", Some("password")) => Some(budget(2, 0, 1, 1, 1)),
        // The same two reads from an email: its guard, then the user; the link is written and sent by email.
        ("reset-password", _) => Some(budget(2, 0, 1, 1, 0)),
        _ => report.class.and_then(class_budget),
    }
}

impl Budgets {
    pub fn misses(&self, report: &FunctionReport, floor_cold: &Spread) -> Vec<String> {
        let mut misses = Vec::new();
        if report
            .size_x86_64
            .is_none_or(|size| size > self.size_x86_64_bytes)
        {
            misses.push(format!(
                "x86_64 size {:?} over {} bytes",
                report.size_x86_64, self.size_x86_64_bytes
            ));
        }
        if let Some(own) = &report.cold_own_ms {
            if own.median > self.cold_own_vs_floor * floor_cold.median {
                misses.push(format!(
                    "cold start {:.2} ms over {}x the floor's {:.2} ms",
                    own.median, self.cold_own_vs_floor, floor_cold.median
                ));
            }
        }
        if let (Some(Class::Once), Some(calls)) = (report.class, report.cold_calls) {
            if report
                .cold_rss_bytes
                .is_none_or(|rss| rss > self.peak_rss_bytes)
            {
                misses.push(format!(
                    "peak RSS {:?} over {} bytes",
                    report.cold_rss_bytes, self.peak_rss_bytes
                ));
            }
            misses.extend(call_misses(report, &calls));
            return misses;
        }
        let Some(warm) = &report.warm else {
            misses.push("not measured warm".into());
            return misses;
        };
        if !warm.unexpected.is_empty() {
            misses.push(format!(
                "unexpected answers: {}",
                warm.unexpected.join(" | ")
            ));
        }
        if warm
            .peak_rss_bytes
            .is_none_or(|rss| rss > self.peak_rss_bytes)
        {
            misses.push(format!(
                "peak RSS {:?} over {} bytes",
                warm.peak_rss_bytes, self.peak_rss_bytes
            ));
        }
        if warm
            .overhead
            .is_some_and(|ratio| ratio > self.warm_overhead)
        {
            misses.push(format!(
                "warm p50 {:.2} ms is {:.2}x the raw calls' {:.2} ms and the work's {:.2} ms",
                warm.p50_ms,
                warm.overhead.unwrap_or_default(),
                warm.raw_p50_ms,
                warm.work_p50_ms
            ));
        }
        misses.extend(call_misses(report, &warm.calls));
        misses
    }
}

/// A Scan, or more calls of a kind than the function's budget.
fn call_misses(report: &FunctionReport, calls: &CallCounts) -> Vec<String> {
    let mut misses = Vec::new();
    if calls.scans > 0 {
        misses.push("a Scan".into());
    }
    if let Some(budget) = call_budget(report) {
        if calls.reads > budget.reads
            || calls.queries > budget.queries
            || calls.writes + calls.transactions > budget.writes
            || calls.sends > budget.sends
            || calls.signs > budget.signs
        {
            misses.push(format!("calls per request {}", describe(calls)));
        }
    }
    misses
}

fn describe(calls: &CallCounts) -> String {
    let parts: Vec<String> = [
        (calls.reads, "read"),
        (calls.queries, "query"),
        (calls.scans, "scan"),
        (calls.writes, "write"),
        (calls.transactions, "txn"),
        (calls.sends, "send"),
        (calls.signs, "sign"),
        (calls.other, "other"),
    ]
    .iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| format!("{:.2}", b as f64 / 1e6))
}

fn spread(value: &Option<Spread>) -> String {
    value.as_ref().map_or("–".into(), |s| {
        format!("{:.1} ({:.1}–{:.1})", s.median, s.min, s.max)
    })
}

/// A row's name: the function, and its scenario when it has several.
fn row_name(report: &FunctionReport) -> String {
    match &report.scenario {
        Some(scenario) => format!("{} ({scenario})", report.function),
        None => report.function.clone(),
    }
}

pub fn render(
    reports: &[FunctionReport],
    budgets: &Budgets,
    options: &Options,
    key_stretch_ms: f64,
    first_key_stretch_ms: f64,
) -> (String, String) {
    let mut table = String::new();
    let fewer: Vec<String> = reports
        .iter()
        .filter_map(|report| report.warm.as_ref().map(|warm| (report, warm.requests)))
        .filter(|(_, requests)| *requests != options.requests)
        .map(|(report, requests)| format!("{} {requests}", row_name(report)))
        .collect();
    let _ = writeln!(
        table,
        "# make bench\n\n{} warm requests per function{}; cold starts: median (min–max) of {} runs. Sizes in MB \
         (10^6 bytes), times in ms. Budgets: x86_64 ≤ {:.0} MB, cold own ≤ {}× the floor, peak RSS ≤ {} MiB, \
         warm p50 ≤ {}× the raw calls' p50 plus the work's. \"Work\" is deliberate argon2id key stretching, kept \
         apart from the overhead: one operation timed at {:.1} ms in this run, and a fresh process's first at \
         {:.1} ms (the median of 5 processes; it also faults in argon2id's 19 MiB).\n",
        options.requests,
        if fewer.is_empty() {
            String::new()
        } else {
            format!(" (but {})", fewer.join(", "))
        },
        options.cold_runs,
        budgets.size_x86_64_bytes as f64 / 1e6,
        budgets.cold_own_vs_floor,
        budgets.peak_rss_bytes / (1024 * 1024),
        budgets.warm_overhead,
        key_stretch_ms,
        first_key_stretch_ms,
    );
    let refused: Vec<String> = reports
        .iter()
        .filter_map(|report| {
            report
                .cold_status
                .filter(|status| !(200..300).contains(status))
                .map(|status| format!("{} {status}", report.function))
        })
        .collect();
    if !refused.is_empty() {
        let _ = writeln!(
            table,
            "These sample events are refused on a fresh seeded table, so their cold start measures a refusal: {}.\n",
            refused.join(", ")
        );
    }
    let _ = writeln!(
        table,
        "| function | class | x86_64 | arm64 | zip | cold | emulator | work | cold own | RSS MiB | p50 | p99 | raw p50 | work p50 | overhead | calls per request | budgets |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for report in reports {
        let warm = report.warm.clone().unwrap_or_default();
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |",
            row_name(report),
            report
                .class
                .map_or("–".into(), |c| format!("{c:?}").to_lowercase()),
            mb(report.size_x86_64),
            mb(report.size_arm64),
            mb(report.zip_arm64),
            spread(&report.cold_ms),
            spread(&report.cold_emulator_ms),
            report
                .cold_work_ms
                .map_or("–".into(), |work| format!("{work:.1}")),
            spread(&report.cold_own_ms),
            warm.peak_rss_bytes
                .or(report.cold_rss_bytes)
                .map_or("–".into(), |b| format!("{:.1}", b as f64 / 1048576.0)),
            warm.p50_ms,
            warm.p99_ms,
            warm.raw_p50_ms,
            if warm.work_p50_ms > 0.0 {
                format!("{:.2}", warm.work_p50_ms)
            } else {
                "–".into()
            },
            warm.overhead.map_or("–".into(), |o| format!("{o:.2}")),
            describe(&report.cold_calls.unwrap_or(warm.calls)),
            if report.misses.is_empty() {
                "ok".to_owned()
            } else {
                format!("**MISS**: {}", report.misses.join("; "))
            },
        );
    }
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "requests": options.requests,
        "key_stretch_ms": key_stretch_ms,
        "first_key_stretch_ms": first_key_stretch_ms,
        "cold_runs": options.cold_runs,
        "budgets": budgets,
        "functions": reports,
    }))
    .unwrap_or_default();
    (table, json)
}
