//! Policy: what privgate changes in an event before a destination sees it.
//! This version holds the PII detectors ([`pii`]); selectors, actions and
//! rule compilation arrive next. Policy never knows about HTTP and never
//! logs field values.

pub mod pii;
pub mod rules;
pub mod selector;
