//! Deletion requests (placeholder, filled in below).

/// The deletion requests.
pub struct Requests;

impl Requests {
    /// Starts a request for `ids`; returns its id.
    pub fn create(&self, _ids: &[String]) -> std::io::Result<String> {
        Err(std::io::Error::other("not yet"))
    }
}
