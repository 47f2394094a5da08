//! `switchboard demo seed DIR`: a company's data loaded through the API the way its systems
//! would send it (an admin's or a service's `SWITCHBOARD_TOKEN`): `articles.jsonl` as
//! `knowledge import` publishes it, `customers.jsonl` through `Router/PutCustomer` and
//! `orders.jsonl` through `Router/UpdateOrder`, in that order (profiles before the orders the
//! notifier tells them about). A missing file is skipped; loading the same data again publishes
//! nothing. `make run` seeds `deploy/demo` with it.

use std::{collections::HashMap, path::Path};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use serde::Deserialize;
use switchboard_auth::Authorized;
use switchboard_proto::{
    events::v1::{OrderStatus, OrderUpdated},
    router::v1::{
        Customer, GetCustomerRequest, PutCustomerRequest, UpdateOrderRequest, router_client::RouterClient,
    },
    time::to_timestamp,
};
use tonic::Code;

use crate::{api::ApiArgs, knowledge::lines};

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Publish DIR's articles.jsonl, customers.jsonl and orders.jsonl through the API.
    Seed {
        dir: std::path::PathBuf,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// One line of `customers.jsonl`: a profile as `PutCustomer` takes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerLine {
    pub customer_id: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub plan: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub attributes: HashMap<String, String>,
}

/// One line of `orders.jsonl`: an order update as `UpdateOrder` takes it, the status by name
/// (`placed`, `paid`, `shipped`, `delivered`, `cancelled`) and `expected_delivery` as a date
/// (`2026-05-04`) or an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub order_id: String,
    #[serde(default)]
    pub customer_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub carrier: String,
    #[serde(default)]
    pub tracking_number: String,
    #[serde(default)]
    pub tracking_url: String,
    #[serde(default)]
    pub expected_delivery: String,
    #[serde(default)]
    pub summary: String,
}

/// How many of each kind were published, and how many were already so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub published: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub articles: Counts,
    pub customers: Counts,
    pub orders: Counts,
}

pub async fn run(command: DemoCommand) -> anyhow::Result<()> {
    let DemoCommand::Seed { dir, api } = command;
    let report = seed(&dir, &api).await?;
    let said =
        |what: &str, counts: Counts| format!("{} {what} ({} unchanged)", counts.published, counts.unchanged);
    println!(
        "seeded {}, {}, {}",
        said("articles", report.articles),
        said("customers", report.customers),
        said("orders", report.orders)
    );
    Ok(())
}

/// Loads `dir` into the server `api` names. Each file is read and checked whole before any of
/// its lines is sent.
pub async fn seed(dir: &Path, api: &ApiArgs) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mut report = SeedReport::default();
    let articles = dir.join("articles.jsonl");
    if articles.exists() {
        let imported = crate::knowledge::import(&articles, api).await?;
        report.articles = Counts { published: imported.published, unchanged: imported.unchanged };
    }
    let customers = dir.join("customers.jsonl");
    if customers.exists() {
        report.customers = put_customers(&customers, api).await?;
    }
    let orders = dir.join("orders.jsonl");
    if orders.exists() {
        report.orders = update_orders(&orders, api).await?;
    }
    Ok(report)
}

/// Puts each profile that differs from what the router has; waits for the router's read model
/// after the last one.
async fn put_customers(file: &Path, api: &ApiArgs) -> anyhow::Result<Counts> {
    let customers: Vec<CustomerLine> = lines(file)?;
    let mut client = RouterClient::new(api.connect().await?);
    let mut counts = Counts::default();
    let last = customers.len();
    for (index, line) in customers.into_iter().enumerate() {
        let customer = Customer {
            customer_id: line.customer_id,
            tier: line.tier,
            plan: line.plan,
            country: line.country,
            attributes: line.attributes,
        };
        if known_customer(&mut client, &customer.customer_id).await?.as_ref() == Some(&customer) {
            counts.unchanged += 1;
            continue;
        }
        let id = customer.customer_id.clone();
        let request = PutCustomerRequest { customer: Some(customer), wait: index + 1 == last };
        client.put_customer(request).await.with_context(|| format!("{}: customer {id}", file.display()))?;
        counts.published += 1;
    }
    Ok(counts)
}

async fn known_customer(client: &mut RouterClient<Authorized>, id: &str) -> anyhow::Result<Option<Customer>> {
    match client.get_customer(GetCustomerRequest { customer_id: id.into() }).await {
        Ok(customer) => Ok(Some(customer.into_inner())),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

/// Sends each order update (the router publishes only those that say something new); waits for
/// the router's read model after the last one.
async fn update_orders(file: &Path, api: &ApiArgs) -> anyhow::Result<Counts> {
    let orders: Vec<OrderLine> = lines(file)?;
    let updates = orders
        .into_iter()
        .enumerate()
        .map(|(number, line)| {
            order_update(line).with_context(|| format!("{}:{}", file.display(), number + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut client = RouterClient::new(api.connect().await?);
    let mut counts = Counts::default();
    let last = updates.len();
    for (index, order) in updates.into_iter().enumerate() {
        let id = order.order_id.clone();
        let request = UpdateOrderRequest { order: Some(order), wait: index + 1 == last };
        let answer = client
            .update_order(request)
            .await
            .with_context(|| format!("{}: order {id}", file.display()))?
            .into_inner();
        if answer.changed {
            counts.published += 1;
        } else {
            counts.unchanged += 1;
        }
    }
    Ok(counts)
}

/// The event a line describes; a status or date that does not read is an error naming it.
pub fn order_update(line: OrderLine) -> anyhow::Result<OrderUpdated> {
    let status = order_status(&line.status)?;
    let expected_delivery = match line.expected_delivery.trim() {
        "" => None,
        text => Some(to_timestamp(moment(text)?)),
    };
    Ok(OrderUpdated {
        order_id: line.order_id,
        customer_id: line.customer_id,
        status: status.into(),
        carrier: line.carrier,
        tracking_number: line.tracking_number,
        tracking_url: line.tracking_url,
        expected_delivery,
        summary: line.summary,
    })
}

/// `shipped` (any case) as `ORDER_STATUS_SHIPPED`; empty keeps the order's status.
fn order_status(name: &str) -> anyhow::Result<OrderStatus> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(OrderStatus::Unspecified);
    }
    OrderStatus::from_str_name(&format!("ORDER_STATUS_{}", name.to_ascii_uppercase()))
        .filter(|status| *status != OrderStatus::Unspecified)
        .with_context(|| format!("status {name:?}: give placed, paid, shipped, delivered or cancelled"))
}

/// A date (midnight UTC) or an RFC 3339 time.
fn moment(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).context("midnight")?.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .with_context(|| format!("expected_delivery {text:?}: give a date (2026-05-04) or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> anyhow::Result<OrderUpdated> {
        order_update(serde_json::from_str(json)?)
    }

    #[test]
    fn an_order_line_reads_as_the_event_the_shop_would_send() {
        let order = line(
            r#"{"order_id": "12345", "customer_id": "c-42", "status": "Shipped", "carrier": "DHL",
                "expected_delivery": "2026-05-04"}"#,
        )
        .expect("a valid line");
        assert_eq!(order.status(), OrderStatus::Shipped);
        assert_eq!(order.carrier, "DHL");
        let expected = order.expected_delivery.expect("a date");
        assert_eq!(expected.seconds, moment("2026-05-04T00:00:00Z").expect("a time").timestamp());
        let update = line(r#"{"order_id": "12345", "tracking_number": "JD1"}"#).expect("a partial update");
        assert_eq!((update.status(), update.expected_delivery), (OrderStatus::Unspecified, None));
    }

    #[test]
    fn a_bad_order_line_says_what_is_wrong() {
        for (json, reason) in [
            (r#"{"order_id": "1", "status": "lost"}"#, "give placed, paid"),
            (r#"{"order_id": "1", "status": "unspecified"}"#, "give placed, paid"),
            (r#"{"order_id": "1", "expected_delivery": "next week"}"#, "expected_delivery"),
        ] {
            let refused = line(json).expect_err(reason);
            assert!(format!("{refused:#}").contains(reason), "{refused:#}");
        }
        let unknown: Result<OrderLine, _> = serde_json::from_str(r#"{"order_id": "1", "colour": "red"}"#);
        assert!(unknown.is_err(), "an unknown field is refused, not ignored");
    }

    #[test]
    fn a_customer_line_reads_with_its_attributes() {
        let customer: CustomerLine = serde_json::from_str(
            r#"{"customer_id": "c-42", "tier": "gold", "attributes": {"email": "a@b.example"}}"#,
        )
        .expect("a valid line");
        assert_eq!(customer.attributes["email"], "a@b.example");
        assert!(customer.plan.is_empty());
    }
}
