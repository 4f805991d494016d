//! Junction's event paths. Inbound: [`ingest`] verifies a webhook, reads its id, type, key and
//! sequence, matches routes and stores the event with its deliveries in one transaction before
//! answering. Outbound: [`dispatch`] runs one dispatcher per destination that claims due
//! deliveries, sends them, and records delivered / retry / dead, with a circuit per destination
//! and ordering lanes kept by the store. [`http`] mounts `/webhooks/{source}` and the delivery
//! admin endpoints.
#![forbid(unsafe_code)]

pub mod bodies;
pub mod browse;
pub mod dispatch;
pub mod erase;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod maintain;

use std::sync::Arc;

use junction_server::AppState;

/// The running event paths of one process.
pub struct Engine {
    pub ingest: ingest::Ingest,
    pub dispatcher: dispatch::Dispatcher,
    /// The jobs of this process's schedule.
    pub scheduler: Arc<jobs::Scheduler>,
    store: Arc<dyn junction_store::Store>,
}

impl Engine {
    /// Builds intake and starts the dispatchers and background maintenance.
    pub async fn start(state: &AppState) -> Result<Arc<Self>, String> {
        Self::start_with(state, None).await
    }

    /// Starts the engine with deliveries into connectors' operations going through `operations`.
    pub async fn start_with(
        state: &AppState,
        operations: Option<Arc<dyn dispatch::Operations>>,
    ) -> Result<Arc<Self>, String> {
        // Metric handles are registered below: the recorder must exist first.
        junction_telemetry::metrics::handle();
        let config = &state.config();
        maintain::load_shapes(state.store.as_ref(), &state.drift).await;
        let wakers = Arc::new(dispatch::Wakers::new(config.flows.destinations.keys()));
        let ingest = ingest::Ingest::new(config, state, wakers.clone());
        let scheduler = jobs::Scheduler::new(state, operations.clone(), wakers.clone());
        let dispatcher = dispatch::Dispatcher::start(config, state, &wakers, operations).await?;
        scheduler.spawn();
        let engine = Arc::new(Self {
            ingest,
            dispatcher,
            scheduler,
            store: state.store.clone(),
        });
        maintain::spawn(state.clone());
        Ok(engine)
    }

    /// A dead or quarantined delivery by id, with the filter that names it alone.
    async fn parked(
        &self,
        id: i64,
    ) -> Result<(junction_store::DeliveryRecord, junction_store::DeadFilter), junction_core::Error>
    {
        use junction_core::{Code, Error};
        let d = self.store.delivery(id).await?.ok_or_else(|| {
            Error::downstream(Code::NotFound, format!("no delivery {id}"))
                .with_hint("dead letters are listed at GET /api/v1/dead-letters")
        })?;
        let filter = junction_store::DeadFilter {
            ids: vec![id],
            quarantined: d.state == junction_store::DeliveryState::Quarantined,
            ..Default::default()
        };
        Ok((d, filter))
    }

    /// Answers the conflict when `changed` is empty (the delivery was not parked), else wakes
    /// its destination.
    fn settle(
        &self,
        d: &junction_store::DeliveryRecord,
        changed: &[i64],
        verb: &str,
    ) -> Result<(), junction_core::Error> {
        if changed.is_empty() {
            return Err(junction_core::Error::downstream(
                junction_core::Code::Conflict,
                format!(
                    "delivery {} is {}, not dead or quarantined",
                    d.id,
                    d.state.as_str()
                ),
            )
            .with_hint(format!(
                "only dead letters and quarantined deliveries can be {verb}"
            )));
        }
        self.dispatcher.wake(&d.destination);
        Ok(())
    }

    /// Replays one dead or quarantined delivery now: it becomes due and its destination's
    /// workers are woken. Errors: not found (404), not dead or quarantined (409).
    pub async fn replay_delivery(&self, id: i64) -> Result<(), junction_core::Error> {
        let (d, filter) = self.parked(id).await?;
        let ids = self
            .store
            .replay(&filter, 1, junction_core::time::now_ms())
            .await?;
        self.settle(&d, &ids, "replayed")
    }

    /// Discards one dead or quarantined delivery: it is never sent, and stops blocking its
    /// `fifo` lane (the next event of its key is due at once). `by` names who, for its reason.
    pub async fn discard_delivery(&self, id: i64, by: &str) -> Result<(), junction_core::Error> {
        let (d, filter) = self.parked(id).await?;
        let now = junction_core::time::now_ms();
        let ids = self
            .store
            .discard(&filter, 1, now, &format!("discarded by {by}"))
            .await?;
        self.settle(&d, &ids, "discarded")?;
        tracing::info!(delivery = id, %by, "delivery discarded");
        Ok(())
    }
}
