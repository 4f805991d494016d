//! Log set-up: filter, format, masking writer, and the OpenTelemetry layer when configured.

use std::io::{self, IsTerminal, Write};

use junction_config::{LogFormat, Telemetry};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Wraps a writer so each log line is masked before it is written.
#[derive(Clone)]
pub struct MaskingWriter<M> {
    inner: M,
}

impl<M> MaskingWriter<M> {
    pub fn new(inner: M) -> Self {
        Self { inner }
    }
}

/// One masked line on its way to the inner writer.
pub struct MaskedLine<W: Write> {
    inner: W,
}

impl<W: Write> Write for MaskedLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The formatter hands over each event whole, so masking sees complete lines.
        let text = String::from_utf8_lossy(buf);
        self.inner
            .write_all(junction_core::mask::mask(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for MaskingWriter<M> {
    type Writer = MaskedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedLine {
            inner: self.inner.make_writer(),
        }
    }
}

/// Keeps exporters alive; flushes pending spans when dropped.
pub struct Guard {
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber: `JUNCTION_LOG` (if set) overrides the configured filter.
/// Logs go to `writer` (stderr in the binary), masked.
pub fn init<W>(cfg: &Telemetry, writer: W) -> Result<Guard, String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let directives = std::env::var("JUNCTION_LOG").unwrap_or_else(|_| cfg.log_level.clone());
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| format!("invalid log filter `{directives}`: {e}"))?;
    let writer = MaskingWriter::new(writer);
    let pretty = match cfg.log_format {
        LogFormat::Pretty => true,
        LogFormat::Json => false,
        LogFormat::Auto => io::stderr().is_terminal(),
    };
    let fmt = if pretty {
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed()
    };
    let (otel, traces) = match &cfg.otlp {
        Some(otlp) => {
            let (layer, provider) = crate::traces::layer(otlp)?;
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(otel)
        .with(fmt)
        .with(filter)
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))?;
    Ok(Guard { traces })
}
