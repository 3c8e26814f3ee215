//! What the endpoint tells its owner about calls.

use super::peer::Peer;
use crate::core::sdp::{self, Offer};

/// The endpoint's handle for a call; stable for the call's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The far end of an inbound call.
    Caller,
    Hotline,
    /// The far end of a call we placed (an agent's phone).
    Remote,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Caller => "caller",
            EndedBy::Hotline => "hotline",
            EndedBy::Remote => "remote",
        }
    }
}

/// Why a call ended: stable codes, stored in call records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// The caller sent BYE.
    CallerBye,
    /// The caller cancelled before we answered.
    CallerCancel,
    /// Our 2xx was never acknowledged (RFC 3261 13.3.1.4).
    AckTimeout,
    /// The call reached the configured maximum duration.
    MaxDuration,
    /// The server was shutting down.
    Shutdown,
    /// We refused the call (the status says why).
    Rejected,
    /// No RTP arrived for too long.
    NoMedia,
    /// The dial plan ended the call (goodbye, after the survey, ...).
    Completed,
    /// A call we placed got no final answer in time (Timer B, 408).
    NoAnswer,
    /// We cancelled a call we placed before it was answered.
    Cancelled,
    /// The agent's leg of a bridged call hung up.
    AgentBye,
    /// The call was transferred away (REFER).
    Transferred,
}

impl EndCause {
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::CallerBye => "caller_bye",
            EndCause::CallerCancel => "caller_cancel",
            EndCause::AckTimeout => "ack_timeout",
            EndCause::MaxDuration => "max_duration",
            EndCause::Shutdown => "shutdown",
            EndCause::Rejected => "rejected",
            EndCause::NoMedia => "no_media",
            EndCause::Completed => "completed",
            EndCause::NoAnswer => "no_answer",
            EndCause::Cancelled => "cancelled",
            EndCause::AgentBye => "agent_bye",
            EndCause::Transferred => "transferred",
        }
    }
}

/// A new call, as the INVITE described it. Numbers are personal data: keep them out of logs.
#[derive(Debug, Clone)]
pub struct IncomingCall {
    pub call_id: String,
    pub caller: String,
    pub called: String,
    pub peer: Peer,
    /// The host the caller used to reach us (Request-URI), for Contact and SDP.
    pub local_host: String,
    pub offer: Option<Result<Offer, sdp::SdpError>>,
    /// Authorization header values (digest credentials), for INVITEs that need them.
    pub authorization: Vec<String>,
    pub user_agent: Option<String>,
    /// The agent the cluster's edge vouches for (its `X-Hotline-Agent` header, which it
    /// sets after digest authentication). Trusted only from the edge's address.
    pub asserted_agent: Option<String>,
}

/// A request the endpoint does not answer itself (REGISTER): the owner answers it with
/// [`Endpoint::respond_to`](super::endpoint::Endpoint::respond_to) or drops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestRef(pub u64);

#[derive(Debug, Clone)]
pub enum Event {
    Incoming {
        call: CallRef,
        info: Box<IncomingCall>,
    },
    /// The ACK of our 2xx arrived.
    Confirmed {
        call: CallRef,
        /// The SDP answer the ACK carried, when our 2xx made the offer.
        answer: Option<Offer>,
    },
    /// A re-INVITE changed where or whether media flows.
    MediaChanged { call: CallRef, offer: Offer },
    /// INFO inside the call (DTMF relay and the like).
    Info {
        call: CallRef,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// A call we placed: a provisional response (180/183) arrived.
    Progress { call: CallRef, status: u16 },
    /// A call we placed was answered (2xx, ACK sent); `answer` is the callee's SDP.
    Answered {
        call: CallRef,
        answer: Option<Offer>,
    },
    /// A request for the owner to answer (REGISTER).
    Request {
        id: RequestRef,
        peer: Peer,
        request: Box<super::message::Request>,
    },
    /// An out-of-dialog request we sent (OPTIONS ping, REGISTER) ended: the final
    /// status, or `None` when nothing answered.
    RequestDone {
        id: RequestRef,
        status: Option<u16>,
        /// The WWW-Authenticate (401) or Proxy-Authenticate (407) values, for a
        /// REGISTER to answer; empty otherwise.
        challenges: Vec<String>,
        /// The challenges came from a proxy (407).
        proxy: bool,
        /// For a REGISTER: on a 2xx the binding lifetime the registrar granted our
        /// Contact (its `expires` parameter, else the Expires header), on a 423 the
        /// shortest it accepts (Min-Expires); `None` otherwise.
        expires: Option<u32>,
    },
    /// The far end asked to transfer the call (REFER, accepted with 202): `target` is
    /// the Refer-To URI.
    Refer { call: CallRef, target: String },
    Ended {
        call: CallRef,
        by: EndedBy,
        cause: EndCause,
        /// The final status when the call was refused or cancelled.
        status: Option<u16>,
    },
}
