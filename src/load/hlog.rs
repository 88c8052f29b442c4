//! `--hlog FILE`: an HdrHistogram interval log, one V2 + DEFLATE histogram per measured second,
//! readable by HdrHistogram's log tools in other languages (HistogramLogProcessor and friends).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

use crate::load::engine::{Observer, Phase, Tick};

pub struct HlogWriter {
    path: PathBuf,
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
    started: bool,
    error: Option<String>,
}

impl HlogWriter {
    pub fn create(path: &Path) -> Result<HlogWriter, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot create interval log {}: {e}", path.display()))?;
        Ok(HlogWriter {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            serializer: V2DeflateSerializer::new(),
            started: false,
            error: None,
        })
    }

    fn write_tick(&mut self, tick: &Tick<'_>) -> Result<(), String> {
        if !self.started {
            // Timestamps are seconds since the load started; StartTime and BaseTime say when.
            let start = SystemTime::now() - tick.since_start;
            IntervalLogWriterBuilder::new()
                .add_comment("[Logged with pgsyncbench; values and maxima are microseconds]")
                .add_comment("[Histogram log format version 1.3]")
                .with_start_time(start)
                .with_base_time(start)
                .begin_log_with(&mut self.file, &mut self.serializer)
                .map_err(|e| e.to_string())?;
            writeln!(
                self.file,
                "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
            )
            .map_err(|e| e.to_string())?;
            self.started = true;
        }
        // A builder with no header writes nothing; it only borrows the file for this interval.
        let mut log = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.file, &mut self.serializer)
            .map_err(|e| e.to_string())?;
        log.write_histogram(
            &tick.stats.hist,
            tick.since_start.saturating_sub(tick.duration),
            tick.duration,
            None,
        )
        .map_err(|e| e.to_string())?;
        self.file.flush().map_err(|e| e.to_string())
    }

    /// Removes the file when nothing was written to it (the run failed before measuring).
    pub fn discard_if_empty(self) {
        if !self.started {
            drop(self.file);
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Reports the first write error, if any.
    pub fn finish(mut self) -> Result<(), String> {
        let flushed = self.file.flush().map_err(|e| e.to_string());
        match self.error.take().map(Err).unwrap_or(flushed) {
            Ok(()) => Ok(()),
            Err(e) => Err(format!(
                "cannot write interval log {}: {e}",
                self.path.display()
            )),
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
