//! `[keys]`: the HMAC and encryption keys, resolved from their references
//! and built into crypto's [`Keyring`](crate::crypto::Keyring).

use crate::config::schema;
use crate::config::validate::Validator;
use std::collections::HashSet;
use toml::Spanned;

impl Validator<'_> {
    /// Resolves and checks `[keys]`: ids unique and usable as a JWE `kid`,
    /// values by reference only, exactly one active key of each kind.
    pub(in crate::config) fn keys(&mut self, keys: &schema::Keys) -> crate::crypto::Keyring {
        use crate::crypto::{EncryptionKey, HmacKey, Keyring};
        let mut ids = HashSet::new();
        let mut hmac = Vec::new();
        let mut hmac_active = Vec::new();
        for (i, k) in keys.hmac.iter().enumerate() {
            let key = format!("keys.hmac[{i}]");
            self.key_id(&k.id, &key, &mut ids);
            if let Some(text) = self.key_secret(&k.secret, &format!("{key}.secret")) {
                match HmacKey::from_text(k.id.get_ref(), text.expose()) {
                    Ok(h) => {
                        hmac_active.push(k.active);
                        hmac.push(h);
                    }
                    Err(e) => self.problem(
                        k.secret.span(),
                        format!("{key}.secret"),
                        e.to_string(),
                        "generate one with `privgate keygen`",
                    ),
                }
            }
        }
        let mut encryption = Vec::new();
        let mut enc_active = Vec::new();
        for (i, k) in keys.encryption.iter().enumerate() {
            let key = format!("keys.encryption[{i}]");
            self.key_id(&k.id, &key, &mut ids);
            if let Some(text) = self.key_secret(&k.key, &format!("{key}.key")) {
                match EncryptionKey::from_text(k.id.get_ref(), text.expose()) {
                    Ok(e) => {
                        enc_active.push(k.active);
                        encryption.push(e);
                    }
                    Err(e) => self.problem(
                        k.key.span(),
                        format!("{key}.key"),
                        e.to_string(),
                        "generate one with `privgate keygen`",
                    ),
                }
            }
        }
        let active_hmac = self.one_active(&hmac_active, "keys.hmac");
        let active_enc = self.one_active(&enc_active, "keys.encryption");
        Keyring::new(hmac, active_hmac, encryption, active_enc)
    }

    /// A key id: usable as a JWE `kid`, and not in `seen` yet.
    fn key_id(&mut self, id: &Spanned<String>, key: &str, seen: &mut HashSet<String>) {
        let valid = !id.get_ref().is_empty()
            && id.get_ref().len() <= 32
            && id
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            self.problem(
                id.span(),
                format!("{key}.id"),
                format!("`{}` is not a valid key id", id.get_ref()),
                "use 1-32 characters from a-z, A-Z, 0-9, '-' and '_'",
            );
        } else if !seen.insert(id.get_ref().clone()) {
            self.problem(
                id.span(),
                format!("{key}.id"),
                format!("the key id `{}` is used twice", id.get_ref()),
                "give every key its own id; ids are how old data finds its key",
            );
        }
    }

    /// The index of the one active key among `flags` (`active` as written;
    /// a lone key is active unless it says otherwise), if exactly one is.
    fn one_active(&mut self, flags: &[Option<bool>], key: &str) -> Option<usize> {
        let active: Vec<usize> = flags
            .iter()
            .enumerate()
            .filter(|(_, f)| **f == Some(true) || (flags.len() == 1 && f.is_none()))
            .map(|(i, _)| i)
            .collect();
        match active[..] {
            [] if flags.is_empty() => None,
            [one] => Some(one),
            _ => {
                self.problem(0..0, key.into(), format!("{} keys are active; exactly one must be", active.len()), "set active = true on the key new data should use, and leave the others for decryption");
                None
            }
        }
    }
}
