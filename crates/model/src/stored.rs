//! The model as the state store keeps it: one record per resource, so that a call
//! writes what it changed and not the whole model.
//!
//! A record is a field of [`Model`] and a key in it, holding JSON: for a collection
//! (a map from id to resource) one record per resource, keyed by the id as JSON writes
//! a map's key; for any other field (the id generator, the quotas, the lists of
//! departed resources) one record holding the whole field, keyed [`WHOLE`]. The records
//! of a model, put back together as `{field: {key: value}}` and `{field: value}`, are
//! its JSON form, so a model read back from them is the model written.
//!
//! [`Model::changes_since`] finds what a call changed without looking at what it did
//! not touch: a collection the call never changed is still shared with the model
//! before it ([`Shared`]), which one pointer comparison tells; in a collection it
//! changed, the resources are compared one by one.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Model;
use crate::shared::Shared;

/// The key of a record holding a whole field.
pub const WHOLE: &str = "";

/// One record of the stored form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The model's field (its name in the model's JSON form).
    pub field: &'static str,
    /// The resource's id within the field, or [`WHOLE`].
    pub key: String,
    /// The resource or field as JSON; `None`: the resource is gone.
    pub value: Option<Vec<u8>>,
}

/// The errors of the stored form, as text for the operator.
pub type StoredError = String;

/// Lists the model's fields for the stored form, each once: `maps` are collections
/// stored a record per resource, `shared` other fields behind [`Shared`] stored whole,
/// `plain` small fields stored whole and compared by their JSON.
///
/// A field missing from these lists would not be stored: the test
/// `every_field_is_stored` compares them with the model's JSON form.
macro_rules! stored_form {
    (maps: [$($map:ident),* $(,)?], shared: [$($shared:ident),* $(,)?], plain: [$($plain:ident),* $(,)?] $(,)?) => {
        /// The names of the fields stored a record per resource.
        const MAP_FIELDS: &[&str] = &[$(stringify!($map)),*];
        /// The names of every stored field.
        #[cfg(test)]
        const FIELDS: &[&str] = &[$(stringify!($map),)* $(stringify!($shared),)* $(stringify!($plain)),*];

        impl Model {
            /// Every record of this model.
            pub fn records(&self) -> Result<Vec<Record>, StoredError> {
                let mut out = Vec::new();
                $(all_entries(stringify!($map), &self.$map, &mut out)?;)*
                $(out.push(whole(stringify!($shared), &*self.$shared)?);)*
                $(out.push(whole(stringify!($plain), &self.$plain)?);)*
                Ok(out)
            }

            /// The records that differ from `old`'s: new and changed resources and
            /// fields with their value, gone resources without. Writing them over
            /// `old`'s records gives this model's.
            pub fn changes_since(&self, old: &Model) -> Result<Vec<Record>, StoredError> {
                let mut out = Vec::new();
                $(changed_entries(stringify!($map), &old.$map, &self.$map, &mut out)?;)*
                $(
                    if !Shared::same(&old.$shared, &self.$shared) {
                        out.push(whole(stringify!($shared), &*self.$shared)?);
                    }
                )*
                $(
                    let new = whole(stringify!($plain), &self.$plain)?;
                    if whole(stringify!($plain), &old.$plain)? != new {
                        out.push(new);
                    }
                )*
                Ok(out)
            }
        }
    };
}

stored_form! {
    maps: [
        vpcs, subnets, route_tables, internet_gateways, elastic_ips, instances, terminated,
        nat_gateways, security_groups, network_acls, peerings, endpoints, flow_logs,
        key_pairs, network_interfaces, launch_templates, prefix_lists, dhcp_options,
        transit_gateways, tgw_attachments, tgw_route_tables, customer_gateways,
        vpn_gateways, vpn_connections, onprem_sites, egress_only_gateways,
    ],
    shared: [
        deleted_nat_gateways, deleted_transit_gateways, deleted_tgw_attachments,
        deleted_tgw_route_tables, deleted_customer_gateways, deleted_vpn_gateways,
        deleted_vpn_connections,
    ],
    plain: [ids, quotas, ipv6_blocks_issued],
}

/// A part of the model, for asking whether a call changed it
/// ([`Model::changed_since`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The VPCs (their attributes, CIDRs, DHCP options association).
    Vpcs,
    /// The subnets.
    Subnets,
    /// The instances, running or stopped (not the terminated ones).
    Instances,
    /// The network interfaces of one's own (attached or not).
    NetworkInterfaces,
    /// The DHCP options sets.
    DhcpOptions,
    /// The security groups (their rules).
    SecurityGroups,
    /// The VPC peering connections.
    Peerings,
    /// The account's managed prefix lists.
    PrefixLists,
    /// The network ACLs (their entries and associations).
    NetworkAcls,
}

impl Part {
    /// Every part.
    pub const ALL: [Part; 9] = [
        Part::Vpcs,
        Part::Subnets,
        Part::Instances,
        Part::NetworkInterfaces,
        Part::DhcpOptions,
        Part::SecurityGroups,
        Part::Peerings,
        Part::PrefixLists,
        Part::NetworkAcls,
    ];
}

/// `$compare(&old.<collection>, &new.<collection>)` for the collection `$part` names:
/// the one place a part is tied to its collection.
macro_rules! compare_part {
    ($part:expr, $old:expr, $new:expr, $compare:ident) => {
        match $part {
            Part::Vpcs => $compare(&$old.vpcs, &$new.vpcs),
            Part::Subnets => $compare(&$old.subnets, &$new.subnets),
            Part::Instances => $compare(&$old.instances, &$new.instances),
            Part::NetworkInterfaces => $compare(&$old.network_interfaces, &$new.network_interfaces),
            Part::DhcpOptions => $compare(&$old.dhcp_options, &$new.dhcp_options),
            Part::SecurityGroups => $compare(&$old.security_groups, &$new.security_groups),
            Part::Peerings => $compare(&$old.peerings, &$new.peerings),
            Part::PrefixLists => $compare(&$old.prefix_lists, &$new.prefix_lists),
            Part::NetworkAcls => $compare(&$old.network_acls, &$new.network_acls),
        }
    };
}

impl Model {
    /// Whether `part` may differ from `old`'s: false only when it provably does not —
    /// never changed since one model was copied from the other. Whoever keeps what it
    /// built from `old` may then skip building it again.
    pub fn changed_since(&self, old: &Model, part: Part) -> bool {
        fn differs<T>(old: &Shared<T>, new: &Shared<T>) -> bool {
            !Shared::same(old, new)
        }
        compare_part!(part, old, self, differs)
    }

    /// Whether an entry of `part` that `old` has too differs from it now. Entries only
    /// added or removed since do not count: whoever keeps what it built from `old`'s
    /// entries (one per instance, say) learns of new ones otherwise, and a VPC, subnet
    /// or DHCP options set is new or gone alone (AWS refuses to delete one in use).
    /// False whenever [`Model::changed_since`] is.
    pub fn modified_since(&self, old: &Model, part: Part) -> bool {
        fn modified<K: Ord, V: PartialEq>(
            old: &Shared<BTreeMap<K, V>>,
            new: &Shared<BTreeMap<K, V>>,
        ) -> bool {
            if Shared::same(old, new) {
                return false;
            }
            let walked = differences(
                old,
                new,
                |was, now| was != now,
                |d| match d {
                    Difference::Now(key, _) if old.contains_key(key) => Err(()),
                    _ => Ok(()),
                },
            );
            walked.is_err()
        }
        compare_part!(part, old, self, modified)
    }
}

/// The instances a call changed ([`Model::instance_changes`]).
#[derive(Debug, Default)]
pub struct InstanceChanges<'m, 'o> {
    /// New instances and changed ones, as they are now, in id order.
    pub changed: Vec<&'m crate::Instance>,
    /// Instances gone (terminated), in id order.
    pub gone: Vec<&'o crate::InstanceId>,
}

impl Model {
    /// The instances that differ from `old`'s: new or changed (including stopped or
    /// started), and gone. Found by pointer: an instance no call changed since one
    /// model was copied from the other is not looked at beyond that, so this costs a
    /// walk of the ids, not a comparison of every instance.
    pub fn instance_changes<'m, 'o>(&'m self, old: &'o Model) -> InstanceChanges<'m, 'o> {
        let mut out = InstanceChanges::default();
        if Shared::same(&old.instances, &self.instances) {
            return out;
        }
        let walked = differences::<_, _, std::convert::Infallible>(
            &old.instances,
            &self.instances,
            |was, now| !Shared::same(was, now),
            |change| {
                match change {
                    Difference::Gone(id) => out.gone.push(id),
                    Difference::Now(_, instance) => out.changed.push(&**instance),
                }
                Ok(())
            },
        );
        let Ok(()) = walked;
        out
    }
}

impl Model {
    /// The model whose records are `records` (field, key, JSON), in any order: what
    /// [`Model::records`] and [`Model::changes_since`] wrote, the gone ones removed.
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = (&'a str, &'a str, &'a [u8])>,
    ) -> Result<Model, StoredError> {
        // Every collection present, if empty: a collection emptied by its owner stays
        // empty (serde's default would bring back, say, the default DHCP options).
        let mut form: Map<String, Value> =
            MAP_FIELDS.iter().map(|f| ((*f).to_owned(), Value::Object(Map::new()))).collect();
        for (field, key, json) in records {
            let value: Value = serde_json::from_slice(json)
                .map_err(|e| format!("the stored {field} {key:?} is unreadable: {e}"))?;
            if key == WHOLE {
                form.insert(field.to_owned(), value);
            } else if let Some(Value::Object(entries)) = form.get_mut(field) {
                entries.insert(key.to_owned(), value);
            } else {
                return Err(format!("the store holds {field} {key:?}, which no model has"));
            }
        }
        serde_json::from_value(Value::Object(form))
            .map_err(|e| format!("the stored model is unreadable: {e}"))
    }
}

/// A whole field's record.
fn whole<T: Serialize + ?Sized>(field: &'static str, value: &T) -> Result<Record, StoredError> {
    let value = serde_json::to_vec(value).map_err(|e| format!("{field}: {e}"))?;
    Ok(Record { field, key: WHOLE.to_owned(), value: Some(value) })
}

/// A resource's key: its id as JSON writes a map's key.
fn key_of<K: Serialize>(field: &str, key: &K) -> Result<String, StoredError> {
    match serde_json::to_value(key).map_err(|e| format!("{field}: {e}"))? {
        Value::String(key) => Ok(key),
        other => Err(format!("{field}: a key that is not a string ({other})")),
    }
}

fn entry<K: Serialize, V: Serialize>(
    field: &'static str,
    key: &K,
    value: Option<&V>,
) -> Result<Record, StoredError> {
    let key = key_of(field, key)?;
    if key == WHOLE {
        return Err(format!("{field}: an empty id"));
    }
    let value = value
        .map(|v| serde_json::to_vec(v).map_err(|e| format!("{field} {key}: {e}")))
        .transpose()?;
    Ok(Record { field, key, value })
}

fn all_entries<K: Serialize, V: Serialize>(
    field: &'static str,
    map: &BTreeMap<K, V>,
    out: &mut Vec<Record>,
) -> Result<(), StoredError> {
    for (key, value) in map {
        out.push(entry(field, key, Some(value))?);
    }
    Ok(())
}

/// The records of `new`'s resources that differ from `old`'s, unless they are still the
/// same map.
fn changed_entries<K: Ord + Serialize, V: PartialEq + Serialize>(
    field: &'static str,
    old: &Shared<BTreeMap<K, V>>,
    new: &Shared<BTreeMap<K, V>>,
    out: &mut Vec<Record>,
) -> Result<(), StoredError> {
    if Shared::same(old, new) {
        return Ok(());
    }
    differences(old, new, PartialEq::ne, |change| {
        out.push(match change {
            Difference::Gone(key) => entry::<K, V>(field, key, None)?,
            Difference::Now(key, value) => entry(field, key, Some(value))?,
        });
        Ok(())
    })
}

/// A key whose value differs between two maps ([`differences`]).
enum Difference<'o, 'n, K, V> {
    /// Only the old map has it.
    Gone(&'o K),
    /// The new map has it, new or with a different value.
    Now(&'n K, &'n V),
}

/// Walks `old` and `new` in key order and calls `each` for every key whose value
/// differs: one map lacks it, or `differ` says so.
fn differences<'o, 'n, K: Ord, V, E>(
    old: &'o BTreeMap<K, V>,
    new: &'n BTreeMap<K, V>,
    differ: impl Fn(&V, &V) -> bool,
    mut each: impl FnMut(Difference<'o, 'n, K, V>) -> Result<(), E>,
) -> Result<(), E> {
    let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((ko, _)), Some((kn, _))) => ko.cmp(kn),
        };
        // The smaller key steps; equal keys step together.
        match (old.next_if(|_| order.is_le()), new.next_if(|_| order.is_ge())) {
            (Some((key, _)), None) => each(Difference::Gone(key))?,
            (None, Some((key, value))) => each(Difference::Now(key, value))?,
            (Some((_, was)), Some((key, value))) if differ(was, value) => {
                each(Difference::Now(key, value))?;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunInstance, Tags};

    /// Applies `records` over `store` as the state store does: a value replaces, none
    /// removes.
    fn apply(store: &mut BTreeMap<(&'static str, String), Vec<u8>>, records: Vec<Record>) {
        for r in records {
            match r.value {
                Some(v) => store.insert((r.field, r.key), v),
                None => store.remove(&(r.field, r.key)),
            };
        }
    }

    fn read(store: &BTreeMap<(&'static str, String), Vec<u8>>) -> Model {
        Model::from_records(store.iter().map(|((f, k), v)| (*f, k.as_str(), v.as_slice()))).unwrap()
    }

    fn json(m: &Model) -> Value {
        serde_json::to_value(m).unwrap()
    }

    fn lab() -> Model {
        let mut m = Model::new(3);
        let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let subnet =
            m.create_subnet(&vpc, "10.0.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        for _ in 0..3 {
            m.run_instance(RunInstance { subnet: Some(subnet.clone()), ..Default::default() })
                .unwrap();
        }
        m
    }

    #[test]
    fn every_field_is_stored() {
        let mut stored: Vec<&str> = FIELDS.to_vec();
        stored.sort_unstable();
        // Fields left out of the JSON form when empty or zero, given something.
        let mut m = lab();
        m.ipv6_blocks_issued = 1;
        let vpc = m.vpcs().next().unwrap().id.clone();
        m.create_egress_only_gateway(&vpc, Tags::new()).unwrap();
        let mut form: Vec<String> = match json(&m) {
            Value::Object(fields) => fields.keys().cloned().collect(),
            _ => unreachable!(),
        };
        form.sort_unstable();
        assert_eq!(stored, form);
    }

    #[test]
    fn a_model_read_back_from_its_records_is_the_model() {
        let m = lab();
        let mut store = BTreeMap::new();
        apply(&mut store, m.records().unwrap());
        assert_eq!(json(&read(&store)), json(&m));
    }

    #[test]
    fn changes_carry_one_model_to_the_next_and_only_what_changed() {
        let old = lab();
        let mut store = BTreeMap::new();
        apply(&mut store, old.records().unwrap());
        let mut new = old.clone();
        assert_eq!(new.changes_since(&old).unwrap(), Vec::new(), "nothing changed");

        let subnet = new.subnets().next().unwrap().id.clone();
        let gone = new.instances().next().unwrap().id.clone();
        new.terminate_instance(&gone, 100).unwrap();
        new.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
        let changes = new.changes_since(&old).unwrap();
        // The instance gone from `instances`, listed in `terminated`, a new one, and
        // the id generator; no VPC, subnet or other instance.
        let fields: Vec<(&str, bool)> =
            changes.iter().map(|r| (r.field, r.value.is_some())).collect();
        assert!(fields.contains(&("instances", false)), "{fields:?}");
        assert!(fields.contains(&("terminated", true)), "{fields:?}");
        assert!(fields.contains(&("ids", true)), "{fields:?}");
        assert!(!fields.iter().any(|(f, _)| *f == "vpcs" || *f == "subnets"), "{fields:?}");
        assert_eq!(changes.iter().filter(|r| r.field == "instances").count(), 2);
        apply(&mut store, changes);
        assert_eq!(json(&read(&store)), json(&new));
    }

    #[test]
    fn a_part_changed_only_where_a_call_changed_it() {
        let old = lab();
        let mut new = old.clone();
        for part in Part::ALL {
            assert!(!new.changed_since(&old, part), "{part:?}");
        }
        let vpc = new.vpcs().next().unwrap().id.clone();
        new.create_subnet(&vpc, "10.0.2.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        assert!(new.changed_since(&old, Part::Subnets));
        for part in [Part::Instances, Part::NetworkInterfaces, Part::SecurityGroups, Part::Peerings]
        {
            assert!(!new.changed_since(&old, part), "{part:?}");
        }
        let group = new.vpc(&vpc).unwrap().default_security_group.clone().unwrap();
        let ssh = crate::SgRule::new(
            crate::Protocol::Tcp,
            22,
            22,
            crate::Peer::Cidr("0.0.0.0/0".parse().unwrap()),
            None,
        );
        let before = new.clone();
        new.authorize(&group, false, vec![ssh.unwrap()]).unwrap();
        assert!(new.changed_since(&before, Part::SecurityGroups));
        assert!(!new.changed_since(&before, Part::Peerings));
        // Equal but made apart: may differ, as far as anyone can tell at a glance.
        assert!(lab().changed_since(&old, Part::Vpcs));

        // Added, the same entries changed: changed, not modified.
        let before = new.clone();
        let other = new.create_vpc("10.9.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        new.create_subnet(&other, "10.9.0.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        for part in [Part::Vpcs, Part::Subnets] {
            assert!(new.changed_since(&before, part), "{part:?}");
            assert!(!new.modified_since(&before, part), "{part:?}");
        }
        // An entry both have, changed: modified.
        let before = new.clone();
        new.set_vpc_dns(&vpc, None, Some(true)).unwrap();
        assert!(new.modified_since(&before, Part::Vpcs));
        assert!(!new.modified_since(&before, Part::Subnets));
    }

    #[test]
    fn instance_changes_are_the_new_the_changed_and_the_gone() {
        let old = lab();
        assert!(old.instance_changes(&old).changed.is_empty());
        let mut new = old.clone();
        let ids: Vec<_> = new.instances().map(|i| i.id.clone()).collect();
        let subnet = new.subnets().next().unwrap().id.clone();
        new.terminate_instance(&ids[0], 1).unwrap();
        new.stop_instance(&ids[1]).unwrap();
        let added =
            new.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
        let changes = new.instance_changes(&old);
        let mut changed: Vec<_> = changes.changed.iter().map(|i| i.id.clone()).collect();
        changed.sort();
        let mut expected = vec![ids[1].clone(), added];
        expected.sort();
        assert_eq!(changed, expected);
        assert_eq!(changes.gone, vec![&ids[0]]);
        // ids[2], untouched, is in neither.
    }

    proptest::proptest! {
        /// The walk finds exactly what a set-by-set comparison finds.
        #[test]
        fn differences_are_what_a_comparison_key_by_key_finds(
            old in proptest::collection::btree_map(0u8..32, 0u8..4, 0..24),
            new in proptest::collection::btree_map(0u8..32, 0u8..4, 0..24),
        ) {
            let mut found = Vec::new();
            let walked = differences::<_, _, ()>(&old, &new, PartialEq::ne, |d| {
                found.push(match d {
                    Difference::Gone(k) => (*k, None),
                    Difference::Now(k, v) => (*k, Some(*v)),
                });
                Ok(())
            });
            proptest::prop_assert!(walked.is_ok());
            let mut expected: Vec<(u8, Option<u8>)> = old
                .keys()
                .filter(|k| !new.contains_key(k))
                .map(|k| (*k, None))
                .chain(new.iter().filter(|(k, v)| old.get(k) != Some(v)).map(|(k, v)| (*k, Some(*v))))
                .collect();
            expected.sort_unstable();
            proptest::prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn an_emptied_collection_stays_empty() {
        let mut m = Model::new(1);
        let mut store = BTreeMap::new();
        let old = m.clone();
        assert!(!m.dhcp_options.is_empty());
        m.dhcp_options.clear();
        apply(&mut store, old.records().unwrap());
        apply(&mut store, m.changes_since(&old).unwrap());
        assert!(read(&store).dhcp_options.is_empty());
    }

    #[test]
    fn a_record_of_no_field_is_refused() {
        let err = Model::from_records([("nonsense", "x", b"{}".as_slice())]).unwrap_err();
        assert!(err.contains("nonsense"), "{err}");
        let err = Model::from_records([("vpcs", "vpc-1", b"{".as_slice())]).unwrap_err();
        assert!(err.contains("unreadable"), "{err}");
    }
}
