//! The Prometheus remote-write (1.0) request: `prometheus.WriteRequest`
//! protobuf messages (the fields maand sends, tags as in Prometheus'
//! `prompb/remote.proto` and `types.proto`), encoded with `prost`, in a
//! snappy block (`snap`), POSTed with `ureq`.

use std::time::Duration;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, sorted by name, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The HTTP body of a request: protobuf in a snappy block.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(req);
    // Compressing a byte slice into a Vec cannot fail but for inputs over
    // 4 GiB, which a handful of gauges never reach.
    snap::raw::Encoder::new().compress_vec(&raw).unwrap_or_default()
}

/// Decode a body (the receiving side; tests use it).
pub fn decode(body: &[u8]) -> Result<WriteRequest, String> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| format!("snappy: {e}"))?;
    <WriteRequest as prost::Message>::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

/// Why a POST failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError {
    /// What happened.
    pub message: String,
    /// A network error, 429 or 5xx.
    pub retryable: bool,
}

/// POST `body` to `url` with the remote-write headers (and basic auth).
pub fn post(url: &str, body: &[u8], auth: Option<(&str, &str)>, timeout: Duration) -> Result<(), PostError> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .header("User-Agent", concat!("maand/", env!("CARGO_PKG_VERSION")));
    if let Some((user, pass)) = auth {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        req = req.header("Authorization", format!("Basic {token}"));
    }
    match req.send(body) {
        Err(e) => Err(PostError { message: format!("request failed: {e}"), retryable: true }),
        Ok(mut resp) => {
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let text: String = text.trim().chars().take(300).collect();
            Err(PostError {
                message: format!(
                    "remote write status {status}{}",
                    if text.is_empty() { String::new() } else { format!(": {text}") }
                ),
                retryable: status.as_u16() == 429 || status.is_server_error(),
            })
        }
    }
}
