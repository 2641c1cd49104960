//! One `tracing` subscriber for every binary.
//!
//! `RUST_LOG` filters (default `info`); `LOG_FORMAT` picks JSON (default, for
//! clusters) or text (for terminals). Logs go to stderr so that stdout stays
//! free for what a program prints as its output (the sender's transcript).
//!
//! In a service binary ([`init_for_service`]) log lines are buffered, as
//! nginx buffers its access log: a request copies its line into a shared
//! buffer and never waits for the `write(2)` to stderr (which is unbuffered,
//! and may be a slow pipe to the container runtime); a background thread
//! writes the buffer when 64 KiB are waiting or 100 ms after its first line
//! (the module `log_buffer` says why and how). The returned guard writes
//! out what is left when `main` ends, so the last lines ("drained, exiting")
//! are not lost. If stderr blocks and the buffer fills, callers wait rather
//! than lines being dropped.

use std::fmt::Write as _;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::{EnvFilter, fmt};

use crate::LogFormat;
pub use crate::log_buffer::FlushGuard;

/// Install the global subscriber for a service binary: stderr through a
/// buffer. Keep the guard alive until the process ends.
pub fn init_for_service(format: LogFormat) -> Option<FlushGuard> {
    match crate::log_buffer::stderr() {
        Ok((writer, guard)) => {
            install(format, writer);
            Some(guard)
        }
        // No thread for the flusher (the process is out of resources):
        // log unbuffered rather than not at all.
        Err(err) => {
            install(format, std::io::stderr);
            tracing::warn!(%err, "cannot start the log flusher thread; logging unbuffered");
            None
        }
    }
}
fn install<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: escape codes in a log file are noise.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(SpanFields)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// How the JSON format keeps a span's fields: as one JSON object, written
/// straight into the span's string.
///
/// tracing-subscriber's JSON format stores each span's fields as a string of
/// JSON, made when the span opens, and parses it back only when an event
/// inside the span is logged. Its own `JsonFields` first collects the fields
/// into a map of `serde_json::Value`s, then serialises the map. Every request
/// opens a span (service-kit's `TraceLayer`), and at `info` most requests log
/// nothing, so that map was about a tenth of the relay's and the sink's
/// instructions per request (BENCHMARKS.md, "Message chain"). This writes
/// the same object directly: names and strings through serde_json's
/// escaping, integers, floats and booleans as JSON values, anything else by
/// its `Debug` text, as `JsonFields` does. When an event is logged, the
/// object is parsed and printed as before, so log lines do not change.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanFields;

impl<'w> FormatFields<'w> for SpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut object = JsonObject::default();
        fields.record(&mut object);
        writer.write_str(&object.finish())
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> std::fmt::Result {
        let mut object = JsonObject::default();
        fields.record(&mut object);
        let added = object.finish();
        // Both are objects written here: `{..}` plus `{..}` becomes one
        // object. A name recorded again appears twice, and the later value
        // wins when the object is parsed, as a later `record` should.
        match (current.fields.strip_suffix('}'), added.strip_prefix('{')) {
            (_, Some("}")) => {}
            (Some("{"), Some(_)) | (None, _) => current.fields = added,
            (Some(head), Some(tail)) => current.fields = format!("{head},{tail}"),
            (Some(_), None) => {}
        }
        Ok(())
    }
}

/// A JSON object under construction: `{` and the fields so far.
#[derive(Debug)]
struct JsonObject(Vec<u8>);

impl Default for JsonObject {
    fn default() -> Self {
        // Room for a request span's fields without growing.
        let mut buf = Vec::with_capacity(160);
        buf.push(b'{');
        Self(buf)
    }
}

impl JsonObject {
    fn field(&mut self, field: &Field, value: &(impl serde::Serialize + ?Sized)) {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        // Writing a str, a number or a bool to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, name);
        self.0.push(b':');
        let _ = serde_json::to_writer(&mut self.0, value);
    }

    fn finish(mut self) -> String {
        self.0.push(b'}');
        // serde_json writes UTF-8 only.
        String::from_utf8(self.0).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Visit for JsonObject {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // Not finite (NaN, infinity): `null`, as serde_json writes it.
        self.field(field, &value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, &value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, value);
    }
    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.field(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name().starts_with("log.") {
            // Metadata of records bridged from the `log` crate, which the
            // JSON format prints on its own.
            return;
        }
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.field(field, &text);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::JsonFields;

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Log the same spans and events through the JSON format with `fields`
    /// storing the span fields, and return the lines as JSON values.
    fn lines<N>(fields: N) -> Vec<serde_json::Value>
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = fmt()
            .with_writer(move || writer.clone())
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .fmt_fields(fields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let quoted = "a \"quoted\" \\ value\nwith a line break and \u{1}";
            let span = tracing::info_span!(
                "request",
                method = %"POST",
                route = "/relay.php",
                request_id = quoted,
                r#type = 7_i64,
                big = u64::MAX,
                ratio = 0.5_f64,
                nan = f64::NAN,
                ok = true,
                bytes = &b"ab"[..],
                debug = ?Some("x"),
                later = tracing::field::Empty,
            );
            let _entered = span.enter();
            tracing::info!(status = 200, "response");
            span.record("later", "filled in");
            span.record("ok", false);
            tracing::warn!("after record");
            let empty = tracing::info_span!("empty");
            let _inner = empty.enter();
            tracing::info!("in an empty span");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn span_fields_print_as_json_fields_prints_them() {
        let ours = lines(SpanFields);
        assert_eq!(ours, lines(JsonFields::new()));
        assert_eq!(ours.len(), 3);
        let span = &ours[0]["span"];
        assert_eq!(
            span["request_id"],
            "a \"quoted\" \\ value\nwith a line break and \u{1}"
        );
        assert_eq!(span["method"], "POST");
        assert_eq!(span["type"], 7);
        assert_eq!(span["nan"], serde_json::Value::Null);
        assert_eq!(ours[1]["span"]["later"], "filled in");
        assert_eq!(ours[1]["span"]["ok"], false);
        assert_eq!(ours[2]["span"]["name"], "empty");
    }
}
