//! Which top-level key means what in one protocol's events: the
//! [`Layout`] a protocol hands the scan ([`super::object`]).

use super::Slot;

/// What a top-level key means in one protocol's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The write key (a string), in an envelope or a single event.
    WriteKey,
    /// The event's deduplication id.
    MessageId,
    /// When the collector received it.
    ReceivedAt,
    /// The event's type or name (an event without one is invalid).
    Type,
    /// The array of events of a batch envelope.
    Batch,
    /// A self-describing envelope's `schema` (a string).
    Schema,
    /// The user id (marked for consent).
    UserId,
    /// The anonymous (device) id (marked for consent).
    AnonymousId,
    /// An id linked to the user's (marked for the opt-out registry).
    LinkedId,
    /// An object some of whose members are marked ([`Layout::context_slot`]).
    Context,
    /// An IAB TCF TC string (marked for consent).
    Tcf,
    /// An IAB GPP string (marked for consent).
    Gpp,
    /// The GPP section ids that apply (marked for consent).
    GppSid,
    /// An IAB US Privacy string (marked for consent).
    UsPrivacy,
    /// Google consent mode's `gcs` (marked for consent).
    Gcs,
    /// Google consent mode's `gcd` (marked for consent).
    Gcd,
    /// The client IP field (marked, so ingest never adds a second one).
    Ip,
    /// Snowplow's contexts object (marked for consent).
    Contexts,
    /// Snowplow's self-describing event (marked for consent).
    SelfDescribing,
    /// The GA4 Measurement Protocol's `consent` object (marked for consent).
    MpConsent,
    /// Validated and skipped.
    Other,
}

impl Role {
    /// Where a value of this role is marked, if it is marked.
    pub(crate) fn slot(self) -> Option<Slot> {
        Some(match self {
            Role::UserId => Slot::UserId,
            Role::AnonymousId => Slot::AnonymousId,
            Role::LinkedId => Slot::LinkedId,
            Role::Tcf => Slot::Tcf,
            Role::Gpp => Slot::Gpp,
            Role::GppSid => Slot::GppSid,
            Role::UsPrivacy => Slot::UsPrivacy,
            Role::Gcs => Slot::Gcs,
            Role::Gcd => Slot::Gcd,
            Role::MpConsent => Slot::MpConsent,
            Role::Ip => Slot::Ip,
            Role::Contexts => Slot::Contexts,
            Role::SelfDescribing => Slot::SelfDescribing,
            _ => return None,
        })
    }
}

/// One protocol's names for the keys ingest reads: a scan reads an event
/// of any protocol in one pass, monomorphized per layout.
pub trait Layout {
    /// The role of a top-level key.
    fn role(key: &str) -> Role;

    /// Where a member of the [`Role::Context`] object goes, if it is
    /// marked.
    fn context_slot(_key: &str) -> Option<Slot> {
        None
    }
}

/// The Segment API (also RudderStack's, and the generic JSON source's).
pub struct SegmentLayout;

impl Layout for SegmentLayout {
    fn role(key: &str) -> Role {
        match key {
            "writeKey" => Role::WriteKey,
            "messageId" => Role::MessageId,
            "receivedAt" => Role::ReceivedAt,
            "type" => Role::Type,
            "batch" => Role::Batch,
            "userId" => Role::UserId,
            "anonymousId" => Role::AnonymousId,
            "previousId" => Role::LinkedId,
            "context" => Role::Context,
            _ => Role::Other,
        }
    }

    fn context_slot(key: &str) -> Option<Slot> {
        match key {
            "consent" => Some(Slot::Consent),
            "consentManagement" => Some(Slot::ConsentManagement),
            "ip" => Some(Slot::Ip),
            _ => None,
        }
    }
}
