//! [`Shared`]: a model collection that copies are made of cheaply and copied only when
//! changed.
//!
//! A call changes a copy of the model, kept only if the call succeeds (see the crate's
//! docs). With thousands of instances, copying every collection for every call was most
//! of a call's cost, though a call changes one or two of them. A `Shared` collection is
//! reference-counted: copying the model copies pointers, and the first change to a
//! collection the copy still shares copies that collection alone (`Arc::make_mut`).
//! Whether a collection changed between two models is then a pointer comparison.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value shared between copies of the model until one of them changes it.
///
/// Reading goes through [`Deref`]; any mutable access ([`DerefMut`]) first makes the
/// value this copy's own, so take one only to change something.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    fn new(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// The value, copied only if another model still shares it.
    pub(crate) fn into_inner(self) -> T
    where
        T: Clone,
    {
        Arc::unwrap_or_clone(self.0)
    }
}

impl<T> Shared<T> {
    /// Whether `a` and `b` are the same value, never changed since one was copied from
    /// the other (or both from a third). Different values are never the same; equal
    /// ones made apart are not either.
    pub(crate) fn same(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// The value as the `Arc` that holds it: a reader may keep it (it never changes;
    /// a change makes a new one) and tell by pointer whether the model's is still it.
    pub(crate) fn arc(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_copy_shares_until_changed_and_the_original_never_sees_the_change() {
        let mut a: Shared<BTreeMap<u8, &str>> = BTreeMap::from([(1, "one")]).into();
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        // Reading does not unshare.
        assert_eq!(b.get(&1), Some(&"one"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        b.insert(2, "two");
        assert!(!Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 2);
        // A value no copy shares is changed in place: still itself.
        let before = Arc::as_ptr(&a.0);
        a.insert(3, "three");
        assert_eq!(Arc::as_ptr(&a.0), before);
    }

    #[test]
    fn serialized_as_the_value_itself() {
        let a: Shared<BTreeMap<String, u8>> = BTreeMap::from([("k".to_owned(), 7)]).into();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"k":7}"#);
        let back: Shared<BTreeMap<String, u8>> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
