//! Gateway VPC endpoints: a route to an AWS service's prefix list that stays inside AWS.
//!
//! AWS semantics: CreateVpcEndpoint (type Gateway) for `com.amazonaws.<region>.s3` or
//! `…dynamodb` adds, to each route table given, a route whose destination is the
//! service's prefix list and whose target is the endpoint; ModifyVpcEndpoint adds and
//! removes tables; deleting the endpoint removes its routes. Traffic through it keeps
//! the instance's private source address. A CIDR route beats a prefix-list route of the
//! same length; a longer prefix beats both.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::VpcEndpointId;
use crate::{Model, Route, RouteOrigin, RouteTableId, RouteTarget, Tags, VpcId};

/// The AWS-managed prefix lists: id, service name, CIDR (the design contract's ranges).
pub const PREFIX_LISTS: [(&str, &str, &str); 2] = [
    ("pl-63a5400a", "com.amazonaws.us-east-1.s3", "192.0.2.0/25"),
    ("pl-02cd2c6b", "com.amazonaws.us-east-1.dynamodb", "192.0.2.128/25"),
];

/// A gateway endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcEndpoint {
    /// `vpce-…`
    pub id: VpcEndpointId,
    /// Its VPC.
    pub vpc: VpcId,
    /// The service, e.g. `com.amazonaws.us-east-1.s3`.
    pub service: String,
    /// The service's prefix list id.
    pub prefix_list: String,
    /// The prefix list's CIDR.
    pub cidr: Ipv4Net,
    /// The route tables it adds its route to.
    pub route_tables: Vec<RouteTableId>,
    /// Tags.
    pub tags: Tags,
    /// Seconds since the Unix epoch at creation.
    #[serde(default)]
    pub created_at: u64,
}

impl Model {
    /// All endpoints.
    pub fn vpc_endpoints(&self) -> impl Iterator<Item = &VpcEndpoint> {
        self.endpoints.values()
    }

    /// An endpoint by id.
    pub fn vpc_endpoint(&self, id: &VpcEndpointId) -> Result<&VpcEndpoint, ApiError> {
        self.endpoints.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidVpcEndpointId.NotFound",
                format!("The Vpc Endpoint Id '{id}' does not exist"),
            )
        })
    }

    fn endpoint_route(endpoint: &VpcEndpoint) -> Route {
        Route {
            destination: endpoint.cidr,
            target: RouteTarget::Endpoint(endpoint.id.clone()),
            origin: RouteOrigin::CreateRoute,
            prefix_list: Some(endpoint.prefix_list.clone()),
        }
    }

    fn check_endpoint_tables(&self, vpc: &VpcId, tables: &[RouteTableId]) -> Result<(), ApiError> {
        for table in tables {
            if &self.route_table(table)?.vpc != vpc {
                return Err(ApiError::invalid_value(format!(
                    "The route table {table} does not belong to the VPC {vpc}"
                )));
            }
        }
        Ok(())
    }

    /// CreateVpcEndpoint (Gateway).
    pub fn create_vpc_endpoint(
        &mut self,
        vpc: &VpcId,
        service: &str,
        route_tables: &[RouteTableId],
        tags: Tags,
        created_at: u64,
    ) -> Result<VpcEndpointId, ApiError> {
        self.vpc(vpc)?;
        let (prefix_list, _, cidr) =
            PREFIX_LISTS.iter().find(|(_, name, _)| *name == service).ok_or_else(|| {
                ApiError::new(
                    "InvalidServiceName",
                    format!("The Vpc Endpoint Service '{service}' does not exist"),
                )
            })?;
        self.check_endpoint_tables(vpc, route_tables)?;
        if self.endpoints.values().any(|e| {
            &e.vpc == vpc
                && e.service == service
                && e.route_tables.iter().any(|t| route_tables.contains(t))
        }) {
            return Err(ApiError::new(
                "RouteAlreadyExists",
                format!(
                    "route table already has a route with destination-prefix-list-id {prefix_list}"
                ),
            ));
        }
        let id = VpcEndpointId::from_raw(self.ids.fresh(VpcEndpointId::PREFIX));
        let endpoint = VpcEndpoint {
            id: id.clone(),
            vpc: vpc.clone(),
            service: service.to_owned(),
            prefix_list: (*prefix_list).to_owned(),
            cidr: cidr.parse().expect("a CIDR"),
            route_tables: Vec::new(),
            tags,
            created_at,
        };
        self.endpoints.insert(id.clone(), endpoint);
        self.modify_vpc_endpoint(&id, route_tables, &[])?;
        Ok(id)
    }

    /// ModifyVpcEndpoint: its route goes into `add` tables and out of `remove` tables.
    pub fn modify_vpc_endpoint(
        &mut self,
        id: &VpcEndpointId,
        add: &[RouteTableId],
        remove: &[RouteTableId],
    ) -> Result<(), ApiError> {
        let endpoint = self.vpc_endpoint(id)?.clone();
        self.check_endpoint_tables(&endpoint.vpc, add)?;
        self.check_endpoint_tables(&endpoint.vpc, remove)?;
        let route = Self::endpoint_route(&endpoint);
        for table in remove {
            if let Some(t) = self.route_tables.get_mut(table) {
                t.routes.retain(|r| r.target != route.target);
            }
        }
        for table in add {
            if let Some(t) = self.route_tables.get_mut(table) {
                if !t.routes.contains(&route) {
                    t.routes.push(route.clone());
                }
            }
        }
        if let Some(e) = self.endpoints.get_mut(id) {
            e.route_tables.retain(|t| !remove.contains(t));
            for t in add {
                if !e.route_tables.contains(t) {
                    e.route_tables.push(t.clone());
                }
            }
        }
        Ok(())
    }

    /// DeleteVpcEndpoints for one endpoint: its routes go with it.
    pub fn delete_vpc_endpoint(&mut self, id: &VpcEndpointId) -> Result<(), ApiError> {
        let tables = self.vpc_endpoint(id)?.route_tables.clone();
        self.modify_vpc_endpoint(id, &[], &tables)?;
        self.endpoints.remove(id);
        Ok(())
    }
}
