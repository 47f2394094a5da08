//! The people's side of the desk, moved here from the router: agents (profiles, load, capacity)
//! and assignment, SLA timers, closing what waits on the customer, and the human decision on
//! returns. One handle the gRPC adapter calls; the decisions themselves are pure folds in
//! [`crate::assign`], [`crate::sla`] and [`crate::returns`].

use std::sync::Arc;

use sqlx::PgPool;
use switchboard_bus::Bus;
use switchboard_projection::{Deps, Task};
use tokio_util::sync::CancellationToken;

use crate::{Error, assign, breach, pending, returns, sla};

#[derive(Clone)]
pub struct People {
    pub bus: Bus,
    pub pool: PgPool,
    pub timers: Arc<sla::Timers>,
    pub assigner: Arc<assign::Assigner>,
}

impl People {
    /// Folds what the stream holds, then follows it: timers, assignment, the pending closer and
    /// the return triggers.
    pub async fn start(deps: &Deps, shutdown: &CancellationToken) -> Result<(Self, Vec<Task>), Error> {
        let (breaches, breached) = tokio::sync::mpsc::unbounded_channel();
        let (timers, mut tasks) = sla::start(&deps.bus, &deps.pool, breaches, shutdown.clone()).await?;
        let (assigner, assign_tasks) = assign::start(&deps.bus, &deps.pool, shutdown.clone()).await?;
        tasks.extend(assign_tasks);
        tasks.push(pending::spawn(deps.bus.clone(), deps.pool.clone(), shutdown.clone()).await?);
        tasks.push(returns::triggers::spawn(deps.bus.clone(), shutdown.clone()).await?);
        let people = Self { bus: deps.bus.clone(), pool: deps.pool.clone(), timers, assigner };
        tasks.push(tokio::spawn(breach::act(people.clone(), breached, shutdown.clone())));
        Ok((people, tasks))
    }
}
