//! W3C trace context and OTLP/HTTP export.

use std::collections::HashMap;

use junction_config::Otlp;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The layer that turns `tracing` spans into exported OpenTelemetry spans.
pub(crate) fn layer<S>(
    cfg: &Otlp,
) -> Result<(Box<dyn Layer<S> + Send + Sync>, SdkTracerProvider), String>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let headers: HashMap<String, String> = cfg.headers.iter().cloned().collect();
    for value in headers.values() {
        junction_core::mask::register(value);
    }
    EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(cfg.endpoint.as_str())
        .with_timeout(cfg.timeout)
        .with_headers(headers)
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            cfg.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(cfg.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("junction");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
    Ok((layer, provider))
}

/// A parsed W3C `traceparent` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub parent_id: String,
    pub sampled: bool,
}

impl TraceParent {
    /// Parses `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; anything else is ignored.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
        if version == "ff"
            || !hex(version, 2)
            || !hex(trace, 32)
            || !hex(parent, 16)
            || !hex(flags, 2)
        {
            return None;
        }
        if trace.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id: trace.to_owned(),
            parent_id: parent.to_owned(),
            sampled: flags & 1 == 1,
        })
    }
}

struct HeaderMapExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderMapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The `traceparent` for a call Junction makes (to a vendor through `/proxy`, or a delivery),
/// so that one trace spans the caller, Junction and the receiver:
/// - a child of the current span when spans are exported (OTLP on);
/// - else a child of the caller's `traceparent` (`incoming`): its trace id and sampled flag, a
///   new parent id (the caller's own span is not Junction's);
/// - else a new trace.
pub fn outgoing_traceparent(incoming: Option<&str>) -> String {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let current = tracing::Span::current().context();
    let sc = current.span().span_context().clone();
    if sc.is_valid() {
        return format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        );
    }
    let span_id = loop {
        let id: u64 = rand::random();
        if id != 0 {
            break id;
        }
    };
    match incoming.and_then(TraceParent::parse) {
        Some(t) => format!(
            "00-{}-{span_id:016x}-{}",
            t.trace_id,
            if t.sampled { "01" } else { "00" }
        ),
        None => {
            let trace_id = loop {
                let id: u128 = rand::random();
                if id != 0 {
                    break id;
                }
            };
            format!("00-{trace_id:032x}-{span_id:016x}-00")
        }
    }
}

/// Makes `span` a child of a stored `traceparent` (an event's, so each delivery attempt joins
/// the trace its webhook arrived in). A malformed value leaves the span where it was.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    // Without an exporter the span has no OpenTelemetry context to set: skip the parsing on
    // every delivery attempt (the attempt's outgoing `traceparent` reads the event's directly).
    if !EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
        || TraceParent::parse(traceparent).is_none()
    {
        return;
    }
    let mut headers = http::HeaderMap::with_capacity(1);
    if let Ok(v) = http::HeaderValue::from_str(traceparent) {
        headers.insert("traceparent", v);
        let _ = span.set_parent(parent_context(&headers));
    }
}

/// Whether spans are exported (an OTLP layer was built).
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The OpenTelemetry context carried by a request's `traceparent`/`tracestate` headers.
pub fn parent_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderMapExtractor(headers))
}

#[cfg(test)]
mod tests {
    use super::{outgoing_traceparent, TraceParent};

    #[test]
    fn outgoing_calls_continue_the_callers_trace_under_a_new_parent_or_start_one() {
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let out = TraceParent::parse(&outgoing_traceparent(Some(caller))).unwrap();
        assert_eq!(out.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(out.parent_id, "00f067aa0ba902b7");
        assert!(out.sampled);
        let fresh = TraceParent::parse(&outgoing_traceparent(None)).unwrap();
        let again = TraceParent::parse(&outgoing_traceparent(Some("garbage"))).unwrap();
        assert_ne!(fresh.trace_id, again.trace_id);
    }

    #[test]
    fn parses_valid_traceparent_only() {
        let t =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(t.sampled);
        assert!(
            TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none()
        );
        assert!(TraceParent::parse("garbage").is_none());
        assert!(
            TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none()
        );
    }
}
