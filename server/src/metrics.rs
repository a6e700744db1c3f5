//! Prometheus metrics, one registry per server instance (no globals, so tests can run
//! several servers in one process).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrameLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AckLabels {
    pub status: String,
    pub code: String,
    pub transport: String,
    pub duplicate: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Default)]
pub struct Metrics {
    registry: Registry,
    pub sessions_open: Gauge,
    /// Set from the presence registry when metrics are read (HTTP reports age out
    /// without any event to update it on).
    pub desks_online: Gauge,
    pub frames_in: Family<FrameLabels, Counter>,
    pub frames_out: Family<FrameLabels, Counter>,
    pub acks: Family<AckLabels, Counter>,
    pub resumes: Family<OutcomeLabels, Counter>,
    pub closes: Family<CloseLabels, Counter>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub upgrade_refusals: Family<StatusLabels, Counter>,
    pub events_published: Counter,
    pub login_failures: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self::default();
        let r = &mut m.registry;
        r.register("frontdesk_ws_sessions_open", "WebSocket sessions open now", m.sessions_open.clone());
        r.register("frontdesk_desks_online", "Desks online now (extension presence)", m.desks_online.clone());
        r.register("frontdesk_ws_frames_in", "WebSocket frames received, by type", m.frames_in.clone());
        r.register("frontdesk_ws_frames_out", "WebSocket frames sent, by type", m.frames_out.clone());
        r.register("frontdesk_acks", "Command answers, by status, code and transport", m.acks.clone());
        r.register("frontdesk_resumes", "Session resumes, by outcome", m.resumes.clone());
        r.register("frontdesk_ws_closes", "WebSocket sessions closed by the server, by close code", m.closes.clone());
        r.register("frontdesk_http_requests", "HTTP requests, by route, method and status", m.http_requests.clone());
        r.register(
            "frontdesk_ws_upgrade_refusals",
            "WebSocket upgrades refused, by HTTP status",
            m.upgrade_refusals.clone(),
        );
        r.register("frontdesk_events_published", "Events written and broadcast", m.events_published.clone());
        r.register("frontdesk_login_failures", "Failed sign-in attempts", m.login_failures.clone());
        m
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    pub fn frame_in(&self, kind: &str) {
        self.frames_in.get_or_create(&FrameLabels { kind: kind.to_owned() }).inc();
    }

    pub fn frame_out(&self, kind: &str) {
        self.frames_out.get_or_create(&FrameLabels { kind: kind.to_owned() }).inc();
    }

    pub fn close(&self, code: u16) {
        self.closes.get_or_create(&CloseLabels { code: code.to_string() }).inc();
    }

    pub fn resume(&self, outcome: &str) {
        self.resumes.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc();
    }
}
