//! Where the values consent reads sit in one event's bytes ([`Marks`]:
//! one [`Span`] per [`Slot`]), as the top-level scan finds them, and when
//! two marked values say the same thing ([`same_value`]). The event
//! carries them (`crate::event` re-exports them) so that deciding consent
//! never parses the event again.

/// A byte range of an event body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Marks {
    /// Moves every mark at or after byte `at` by `by` bytes, after `by`
    /// bytes were inserted at `at`.
    pub fn shift(&mut self, at: u32, by: u32) {
        self.resize_after(at, i64::from(by));
    }

    /// Moves every mark at or after byte `at` by `by` bytes (negative: back),
    /// after what precedes `at` grew (or shrank) by that much.
    pub fn resize_after(&mut self, at: u32, by: i64) {
        let moved = |offset: u32| {
            if offset >= at {
                u32::try_from(i64::from(offset) + by).unwrap_or(offset)
            } else {
                offset
            }
        };
        for slot in Slot::ALL {
            if let Some(span) = slot.of(self) {
                *span = Span {
                    start: moved(span.start),
                    end: moved(span.end),
                };
            }
        }
        for offset in [&mut self.ip_at, &mut self.top_at].into_iter().flatten() {
            *offset = moved(*offset);
        }
    }
}

impl Span {
    /// Where it starts in the body.
    pub fn start(self) -> u32 {
        self.start
    }

    /// The span of `part`, a subslice of `whole`; `None` when it is not one
    /// (or the body is over 4 GiB, which no limit allows).
    pub fn of(whole: &[u8], part: &[u8]) -> Option<Span> {
        let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        (end <= whole.len()).then_some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    /// The bytes it covers in `body` (empty if it does not fit: marks of
    /// another body never panic).
    pub fn get(self, body: &[u8]) -> &[u8] {
        body.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// Where the values consent reads sit in an event, found by ingest's one
/// validating scan so that deciding consent never parses the event again.
/// The roles are protocol-neutral; each protocol's decoder maps its own keys
/// to them (Segment and RudderStack: `userId`, `anonymousId`,
/// `context.consent`, `context.consentManagement`). Each span holds one
/// complete JSON value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// The user id.
    pub user_id: Option<Span>,
    /// The anonymous (device) id.
    pub anonymous_id: Option<Span>,
    /// A category-preferences consent object (Segment's `context.consent`).
    pub consent: Option<Span>,
    /// A consent-management object (RudderStack's `context.consentManagement`).
    pub consent_management: Option<Span>,
    /// An IAB TCF TC string (a JSON string: GA4's `gdpr_consent`, ...).
    pub tcf: Option<Span>,
    /// An IAB GPP string (a JSON string: GA4's `gpp`).
    pub gpp: Option<Span>,
    /// The GPP section ids that apply (a JSON string: GA4's `gpp_sid`).
    pub gpp_sid: Option<Span>,
    /// An IAB US Privacy string (a JSON string: GA4's `us_privacy`).
    pub us_privacy: Option<Span>,
    /// Google consent mode's `gcs` (a JSON string, `G1xy`).
    pub gcs: Option<Span>,
    /// Google consent mode's `gcd` (a JSON string).
    pub gcd: Option<Span>,
    /// Snowplow's contexts (`co`/`cx`, decoded into an object by ingest),
    /// where its `gdpr` and `consent_document` contexts are.
    pub contexts: Option<Span>,
    /// Snowplow's self-describing event (`ue_pr`/`ue_px`, decoded), which
    /// may be a `consent_granted` or `consent_withdrawn`.
    pub self_describing: Option<Span>,
    /// The client IP field the protocol keeps in the event (Segment's
    /// `context.ip`, PostHog's `properties.$ip`, Amplitude's `ip`), when the
    /// event has one.
    pub ip: Option<Span>,
    /// Where a member can be inserted first into the object that holds the
    /// client IP field (Segment's `context`, PostHog's `properties`): the
    /// offset of its first key. `None` when there is no such object, or it
    /// is empty.
    pub ip_at: Option<u32>,
    /// Where a member can be inserted first into the event itself.
    pub top_at: Option<u32>,
    /// The event has the object that holds the client IP field (even an
    /// empty one, which `ip_at` cannot point into).
    pub has_context: bool,
    /// The GA4 Measurement Protocol's `consent` object (`ad_user_data`,
    /// `ad_personalization`: `"GRANTED"` or `"DENIED"`).
    pub mp_consent: Option<Span>,
    /// An id the event links to the person's current one (Segment's and
    /// RudderStack's `previousId` on `alias`, PostHog's `properties.alias`
    /// on `$create_alias`): the same person, so the opt-out registry
    /// checks it too.
    pub linked_id: Option<Span>,
    /// The anonymous id an identify replaces (PostHog's
    /// `properties.$anon_distinct_id`), checked like `linked_id`.
    pub linked_anonymous_id: Option<Span>,
    /// One of those keys (or the object holding them) appeared twice with
    /// different values ([`same_value`]). The event says two things and a
    /// backend may believe either, so consent trusts neither: no
    /// destination that requires consent receives it. A key repeated with
    /// the same value (posthog-node's `alias()` sends `distinct_id` at the
    /// top level and in `properties`) says one thing and is not ambiguous.
    pub ambiguous: bool,
    /// Of those, the user or anonymous id was given twice with different
    /// values: the event may be either person's, so the opt-out registry
    /// cannot clear it.
    pub ids_ambiguous: bool,
}

/// One marked value of [`Marks`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// [`Marks::user_id`].
    UserId,
    /// [`Marks::anonymous_id`].
    AnonymousId,
    /// [`Marks::consent`].
    Consent,
    /// [`Marks::consent_management`].
    ConsentManagement,
    /// [`Marks::tcf`].
    Tcf,
    /// [`Marks::gpp`].
    Gpp,
    /// [`Marks::gpp_sid`].
    GppSid,
    /// [`Marks::us_privacy`].
    UsPrivacy,
    /// [`Marks::gcs`].
    Gcs,
    /// [`Marks::gcd`].
    Gcd,
    /// [`Marks::contexts`].
    Contexts,
    /// [`Marks::self_describing`].
    SelfDescribing,
    /// [`Marks::ip`].
    Ip,
    /// [`Marks::mp_consent`].
    MpConsent,
    /// [`Marks::linked_id`].
    LinkedId,
    /// [`Marks::linked_anonymous_id`].
    LinkedAnonymousId,
}

impl Slot {
    /// Every slot.
    pub const ALL: [Slot; 16] = [
        Slot::UserId,
        Slot::AnonymousId,
        Slot::Consent,
        Slot::ConsentManagement,
        Slot::Tcf,
        Slot::Gpp,
        Slot::GppSid,
        Slot::UsPrivacy,
        Slot::Gcs,
        Slot::Gcd,
        Slot::Contexts,
        Slot::SelfDescribing,
        Slot::Ip,
        Slot::MpConsent,
        Slot::LinkedId,
        Slot::LinkedAnonymousId,
    ];

    /// Its place in `marks`.
    pub fn of(self, marks: &mut Marks) -> &mut Option<Span> {
        match self {
            Slot::UserId => &mut marks.user_id,
            Slot::AnonymousId => &mut marks.anonymous_id,
            Slot::Consent => &mut marks.consent,
            Slot::ConsentManagement => &mut marks.consent_management,
            Slot::Tcf => &mut marks.tcf,
            Slot::Gpp => &mut marks.gpp,
            Slot::GppSid => &mut marks.gpp_sid,
            Slot::UsPrivacy => &mut marks.us_privacy,
            Slot::Gcs => &mut marks.gcs,
            Slot::Gcd => &mut marks.gcd,
            Slot::Contexts => &mut marks.contexts,
            Slot::SelfDescribing => &mut marks.self_describing,
            Slot::Ip => &mut marks.ip,
            Slot::MpConsent => &mut marks.mp_consent,
            Slot::LinkedId => &mut marks.linked_id,
            Slot::LinkedAnonymousId => &mut marks.linked_anonymous_id,
        }
    }

    /// What it holds in `marks`.
    pub fn get(self, mut marks: Marks) -> Option<Span> {
        *self.of(&mut marks)
    }
}

impl Marks {
    /// Marks `span` (of `body`) in `slot`. A slot already holding a value
    /// keeps it; if the two differ ([`same_value`]) the marks become
    /// ambiguous (and, for an id, `ids_ambiguous`).
    pub fn mark(&mut self, body: &[u8], slot: Slot, span: Option<Span>) {
        let Some(span) = span else { return };
        let place = slot.of(self);
        match *place {
            None => *place = Some(span),
            Some(held) if same_value(held.get(body), span.get(body)) => {}
            Some(_) => {
                self.ambiguous = true;
                self.ids_ambiguous |= matches!(slot, Slot::UserId | Slot::AnonymousId);
            }
        }
    }
}

/// Whether two JSON values (their text) say the same thing to any reader:
/// the same text, or strings with the same text once decoded (`"a"` and
/// `"\u0061"`). Anything else whose text differs is taken to differ
/// (`1` and `1.0`, objects written differently): a reader might tell them
/// apart, and a value that may differ is never trusted.
pub fn same_value(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    // Only reached for two different texts of one slot (rare): decoding
    // both into owned strings costs nothing on the common path.
    fn string(raw: &[u8]) -> Option<String> {
        serde_json::from_slice::<String>(raw).ok()
    }
    a.first() == Some(&b'"')
        && b.first() == Some(&b'"')
        && matches!((string(a), string(b)), (Some(x), Some(y)) if x == y)
}
