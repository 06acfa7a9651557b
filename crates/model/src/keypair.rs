//! EC2 key pairs: named, as AWS keeps them, and checked when an instance is launched
//! with one. Nothing in a lab runs an SSH server, so a key is a name, an id and a
//! fingerprint; the private key vpclab hands out is well-formed PEM, not a usable key.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::{KeyPairId, Model, Tags};

/// A key pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPair {
    /// `key-…`
    pub id: KeyPairId,
    /// Its name, unique in the Region.
    pub name: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// The fingerprint AWS shows (colon-separated hex).
    pub fingerprint: String,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

impl Model {
    /// Every key pair, by name.
    pub fn key_pairs(&self) -> impl Iterator<Item = &KeyPair> {
        self.key_pairs.values()
    }

    /// A key pair by name.
    pub fn key_pair(&self, name: &str) -> Result<&KeyPair, ApiError> {
        self.key_pairs.get(name).ok_or_else(|| {
            ApiError::new(
                "InvalidKeyPair.NotFound",
                format!("The key pair '{name}' does not exist"),
            )
        })
    }

    /// CreateKeyPair / ImportKeyPair: a new key pair named `name`.
    pub fn create_key_pair(
        &mut self,
        name: &str,
        key_type: &str,
        fingerprint: String,
        created_at: u64,
        tags: Tags,
    ) -> Result<&KeyPair, ApiError> {
        if name.is_empty() || name.len() > 255 || !name.is_ascii() {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!(
                    "Value ({name}) for parameter keyName is invalid. Length exceeds maximum of 255 ASCII characters or is empty."
                ),
            ));
        }
        if !matches!(key_type, "rsa" | "ed25519") {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!(
                    "Value ({key_type}) for parameter keyType is invalid. Valid values: rsa, ed25519."
                ),
            ));
        }
        if self.key_pairs.contains_key(name) {
            return Err(ApiError::new(
                "InvalidKeyPair.Duplicate",
                format!("The keypair '{name}' already exists."),
            ));
        }
        let id = KeyPairId::from_raw(self.ids.fresh(KeyPairId::PREFIX));
        let pair = KeyPair {
            id,
            name: name.to_owned(),
            key_type: key_type.to_owned(),
            fingerprint,
            created_at,
            tags,
        };
        Ok(self.key_pairs.entry(name.to_owned()).or_insert(pair))
    }

    /// DeleteKeyPair, by name or id: deleting one that does not exist is no error (as
    /// on AWS). The deleted pair, if there was one.
    pub fn delete_key_pair(
        &mut self,
        name: Option<&str>,
        id: Option<&KeyPairId>,
    ) -> Option<KeyPair> {
        let name = match (name, id) {
            (Some(name), _) => name.to_owned(),
            (None, Some(id)) => self.key_pairs.values().find(|k| &k.id == id)?.name.clone(),
            (None, None) => return None,
        };
        self.key_pairs.remove(&name)
    }
}
