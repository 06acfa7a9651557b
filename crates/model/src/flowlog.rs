//! VPC Flow Logs: which interfaces' traffic is recorded, which of it, and where to.
//!
//! AWS semantics: CreateFlowLogs for VPCs, subnets or network interfaces records, per
//! interface, the flows accepted and/or rejected by security groups and network ACLs,
//! aggregated over 60 or 600 seconds, in the default version-2 format. vpclab writes
//! the records to files under its state directory (see `docs/trace.md`).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::FlowLogId;
use crate::{Instance, Model, NetworkInterfaceId, SubnetId, Tags, VpcId};

/// What a flow log watches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowLogResource {
    /// Every interface in the VPC.
    Vpc(VpcId),
    /// Every interface in the subnet.
    Subnet(SubnetId),
    /// One interface.
    Interface(NetworkInterfaceId),
}

impl FlowLogResource {
    /// Its id as text.
    pub fn id(&self) -> &str {
        match self {
            FlowLogResource::Vpc(id) => id.as_str(),
            FlowLogResource::Subnet(id) => id.as_str(),
            FlowLogResource::Interface(id) => id.as_str(),
        }
    }

    /// Whether `instance`'s interface is covered.
    pub fn covers(&self, instance: &Instance) -> bool {
        match self {
            FlowLogResource::Vpc(id) => &instance.vpc == id,
            FlowLogResource::Subnet(id) => &instance.subnet == id,
            FlowLogResource::Interface(id) => &instance.interface == id,
        }
    }

    /// Whether it records network interface `eni` (one attached to an instance).
    pub fn covers_interface(&self, eni: &crate::NetworkInterface) -> bool {
        match self {
            FlowLogResource::Vpc(id) => &eni.vpc == id,
            FlowLogResource::Subnet(id) => &eni.subnet == id,
            FlowLogResource::Interface(id) => &eni.id == id,
        }
    }
}

/// Which records a flow log keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrafficType {
    /// Accepted flows.
    Accept,
    /// Rejected flows.
    Reject,
    /// Both.
    All,
}

impl TrafficType {
    /// Parses AWS's `ACCEPT`, `REJECT`, `ALL`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACCEPT" => Some(TrafficType::Accept),
            "REJECT" => Some(TrafficType::Reject),
            "ALL" => Some(TrafficType::All),
            _ => None,
        }
    }

    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficType::Accept => "ACCEPT",
            TrafficType::Reject => "REJECT",
            TrafficType::All => "ALL",
        }
    }

    /// Whether a record with this action (accepted or not) is kept.
    pub fn keeps(self, accepted: bool) -> bool {
        match self {
            TrafficType::Accept => accepted,
            TrafficType::Reject => !accepted,
            TrafficType::All => true,
        }
    }
}

/// A flow log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLog {
    /// `fl-…`
    pub id: FlowLogId,
    /// What it watches.
    pub resource: FlowLogResource,
    /// How it was asked for.
    #[serde(flatten)]
    pub spec: FlowLogSpec,
}

/// One resource's outcome in CreateFlowLogs: the new flow log, or the resource id and
/// why not.
pub type Created = Result<FlowLogId, (String, ApiError)>;

/// What CreateFlowLogs asks for, besides the resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLogSpec {
    /// Which records.
    pub traffic_type: TrafficType,
    /// `cloud-watch-logs`, `s3` or `kinesis-data-firehose`, as asked.
    pub destination_type: String,
    /// The destination as asked (an ARN or a log group name).
    pub destination: String,
    /// Seconds each record aggregates at most: 60 or 600.
    pub max_aggregation_interval: u32,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

impl Model {
    /// All flow logs.
    pub fn flow_logs(&self) -> impl Iterator<Item = &FlowLog> {
        self.flow_logs.values()
    }

    /// The resource `id` (a VPC, subnet or interface id), checked.
    fn flow_log_resource(&self, kind: &str, id: &str) -> Result<FlowLogResource, ApiError> {
        let missing = || {
            ApiError::new(
                "InvalidParameter",
                format!("{id} does not exist or is not a {kind} resource"),
            )
        };
        Ok(match kind {
            "VPC" => {
                let vpc = self.vpcs().find(|v| v.id.as_str() == id).ok_or_else(missing)?;
                FlowLogResource::Vpc(vpc.id.clone())
            }
            "Subnet" => {
                let s = self.subnets().find(|s| s.id.as_str() == id).ok_or_else(missing)?;
                FlowLogResource::Subnet(s.id.clone())
            }
            "NetworkInterface" => {
                let i =
                    self.instances().find(|i| i.interface.as_str() == id).ok_or_else(missing)?;
                FlowLogResource::Interface(i.interface.clone())
            }
            other => {
                return Err(ApiError::invalid_value(format!(
                    "Value ({other}) for parameter resourceType is invalid. vpclab logs VPC, \
                     Subnet and NetworkInterface resources."
                )));
            }
        })
    }

    /// CreateFlowLogs: one flow log per resource; per-resource failures are returned,
    /// not raised (AWS lists them under `unsuccessful`).
    pub fn create_flow_logs(
        &mut self,
        kind: &str,
        ids: &[String],
        spec: &FlowLogSpec,
    ) -> Result<Vec<Created>, ApiError> {
        if spec.max_aggregation_interval != 60 && spec.max_aggregation_interval != 600 {
            return Err(ApiError::new(
                "InvalidParameter",
                format!(
                    "Invalid MaxAggregationInterval: {}. Valid values are 60 and 600.",
                    spec.max_aggregation_interval
                ),
            ));
        }
        let mut out = Vec::new();
        for raw in ids {
            let resource = match self.flow_log_resource(kind, raw) {
                Ok(r) => r,
                Err(e) => {
                    out.push(Err((raw.clone(), e)));
                    continue;
                }
            };
            let duplicate = self.flow_logs.values().any(|f| {
                f.resource == resource
                    && f.spec.traffic_type == spec.traffic_type
                    && f.spec.destination == spec.destination
            });
            if duplicate {
                out.push(Err((
                    raw.clone(),
                    ApiError::new(
                        "FlowLogAlreadyExists",
                        "There is an existing Flow Log with the same configuration and log \
                         destination.",
                    ),
                )));
                continue;
            }
            let id = FlowLogId::from_raw(self.ids.fresh(FlowLogId::PREFIX));
            self.flow_logs
                .insert(id.clone(), FlowLog { id: id.clone(), resource, spec: spec.clone() });
            out.push(Ok(id));
        }
        Ok(out)
    }

    /// DeleteFlowLogs for one flow log.
    pub fn delete_flow_log(&mut self, id: &str) -> Result<(), ApiError> {
        let key = self.flow_logs.keys().find(|k| k.as_str() == id).cloned().ok_or_else(|| {
            ApiError::new("InvalidFlowLogId.NotFound", format!("Flow log {id} does not exist"))
        })?;
        self.flow_logs.remove(&key);
        Ok(())
    }

    /// The flow logs that record `instance`'s interface.
    pub fn flow_logs_of<'a>(&'a self, instance: &'a Instance) -> impl Iterator<Item = &'a FlowLog> {
        self.flow_logs.values().filter(move |f| f.resource.covers(instance))
    }
}
