//! The disk's own fsync latency, measured beside a benchmark phase.
//!
//! A durable answer waits for the disk at some point (PostgreSQL's commit,
//! SQLite's checkpoint); on a virtual disk whose flushes sometimes take tens
//! of milliseconds that is what p99 shows. This probe writes a page and
//! flushes it every `PERIOD`, on the same clock as the benchmark's answers,
//! so a stall in the answers can be matched with one of the disk.

use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PERIOD: Duration = Duration::from_millis(10);
/// The probe's file cycles over this many 4 KB pages.
const PAGES: u64 = 256;

pub struct DiskProbe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(f64, f64)>>>,
    file: PathBuf,
}

/// A bench that fails midway still stops the probe and removes its file
/// (it may sit beside PostgreSQL's data directory).
impl Drop for DiskProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.file);
    }
}

impl DiskProbe {
    /// Starts flushing a file in `dir`; times are counted from `began`.
    pub fn start(dir: &Path, began: Instant) -> Result<Self, String> {
        let file = dir.join(format!("fsync-probe-{}", std::process::id()));
        let mut f = std::fs::File::create(&file).map_err(|e| format!("disk probe {}: {e}", file.display()))?;
        f.write_all(&vec![0u8; (PAGES * 4096) as usize]).and_then(|_| f.sync_all()).map_err(|e| format!("disk probe: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let page = [7u8; 4096];
            let mut samples = Vec::new();
            for n in 0u64.. {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let t = Instant::now();
                if f.write_at(&page, (n % PAGES) * 4096).and_then(|_| f.sync_data()).is_err() {
                    break;
                }
                samples.push((t.duration_since(began).as_secs_f64() * 1000.0, t.elapsed().as_secs_f64() * 1000.0));
                std::thread::sleep(PERIOD.saturating_sub(t.elapsed()));
            }
            samples
        });
        Ok(Self { stop, thread: Some(thread), file })
    }

    /// Stops the probe; a summary of the flushes that began at or after
    /// `from_ms` (the warm-up's are left out, like the answers').
    pub fn finish(mut self, from_ms: f64) -> Value {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default();
        let mut counted: Vec<(f64, f64)> = samples.into_iter().filter(|(at, _)| *at >= from_ms).collect();
        let mut ms: Vec<f64> = counted.iter().map(|(_, ms)| *ms).collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        counted.sort_by(|a, b| b.1.total_cmp(&a.1));
        counted.truncate(5);
        json!({
            "period_ms": PERIOD.as_millis() as u64,
            "flushes": ms.len(),
            "p50_ms": crate::bench::percentile(&ms, 0.50),
            "p99_ms": crate::bench::percentile(&ms, 0.99),
            "max_ms": crate::bench::percentile(&ms, 1.0),
            "over_5_ms": ms.iter().filter(|&&m| m > 5.0).count(),
            "slowest": counted.iter().map(|(at, ms)| json!({ "ms": (ms * 100.0).round() / 100.0, "began_at_ms": at.round() })).collect::<Vec<_>>(),
        })
    }
}

/// Whether two paths are on one file system (`None` if either cannot be read).
pub fn same_device(a: &Path, b: &Path) -> Option<bool> {
    Some(std::fs::metadata(a).ok()?.dev() == std::fs::metadata(b).ok()?.dev())
}
