//! `--hlog FILE`: an HdrHistogram interval log, one V2 + DEFLATE histogram per measured second,
//! readable by HdrHistogram's log tools in other languages (HistogramLogProcessor and friends).
//! Untagged intervals hold the latency users see; at a fixed rate, intervals tagged `service`
//! (from the actual start) and `lag` (schedule lag) follow each of them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::load::engine::{Observer, Phase, Tick};

/// Tags of a fixed-rate run's service-time and schedule-lag intervals.
pub const SERVICE_TAG: &str = "service";
pub const LAG_TAG: &str = "lag";

#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("cannot create interval log {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write interval log {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode a histogram into interval log {}: {reason}", path.display())]
    Encode { path: PathBuf, reason: String },
}

/// Why one interval could not be written.
enum TickError {
    Io(std::io::Error),
    /// The serializer's errors carry no source worth keeping beyond their words.
    Encode(String),
}

pub struct HlogWriter {
    path: PathBuf,
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
    started: bool,
    error: Option<TickError>,
}

impl HlogWriter {
    pub fn create(path: &Path) -> Result<HlogWriter, HlogError> {
        let file = File::create(path).map_err(|e| HlogError::Create {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(HlogWriter {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            serializer: V2DeflateSerializer::new(),
            started: false,
            error: None,
        })
    }

    fn write_tick(&mut self, tick: &Tick<'_>) -> Result<(), TickError> {
        if !self.started {
            // Timestamps are seconds since the load started; StartTime and BaseTime say when.
            let start = SystemTime::now() - tick.since_start;
            IntervalLogWriterBuilder::new()
                .add_comment("[Logged with pgsyncbench; values and maxima are microseconds]")
                .add_comment("[Histogram log format version 1.3]")
                .with_start_time(start)
                .with_base_time(start)
                .begin_log_with(&mut self.file, &mut self.serializer)
                .map_err(TickError::Io)?;
            writeln!(
                self.file,
                "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
            )
            .map_err(TickError::Io)?;
            self.started = true;
        }
        // A builder with no header writes nothing; it only borrows the file for this interval.
        let mut log = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.file, &mut self.serializer)
            .map_err(TickError::Io)?;
        let from = tick.since_start.saturating_sub(tick.duration);
        let stats = tick.stats;
        let mut series = vec![(&stats.hist, None)];
        if !stats.lag.is_empty() {
            series.push((&stats.service, Tag::new(SERVICE_TAG)));
            series.push((&stats.lag, Tag::new(LAG_TAG)));
        }
        for (h, tag) in series {
            log.write_histogram(h, from, tick.duration, tag)
                .map_err(|e| TickError::Encode(format!("{e:?}")))?;
        }
        self.file.flush().map_err(TickError::Io)
    }

    /// Removes the file when nothing was written to it (the run failed before measuring).
    pub fn discard_if_empty(self) {
        if !self.started {
            drop(self.file);
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Reports the first write error, if any.
    pub fn finish(mut self) -> Result<(), HlogError> {
        let flushed = self.file.flush().map_err(TickError::Io);
        match self.error.take().map(Err).unwrap_or(flushed) {
            Ok(()) => Ok(()),
            Err(TickError::Io(e)) => Err(HlogError::Write {
                path: self.path,
                source: e,
            }),
            Err(TickError::Encode(reason)) => Err(HlogError::Encode {
                path: self.path,
                reason,
            }),
        }
    }
}

impl Observer for HlogWriter {
    fn tick(&mut self, tick: &Tick<'_>) {
        if tick.phase != Phase::Measure || self.error.is_some() {
            return;
        }
        if let Err(e) = self.write_tick(tick) {
            self.error = Some(e);
        }
    }
}
