//! RabbitMQ hand-off of queued runs to workers (issue 7): with `--amqp-url`, every replica's
//! relay announces due runs on one durable queue, and workers take them from it instead of
//! polling the database. The database stays the record: a run is announced only after it is
//! queued there, a worker claims it there by id (so an announcement delivered twice runs once),
//! and acks only once that claim is committed. Announcements lost with a crashed relay or broker
//! are covered by workers still polling the database, slowly, while the queue is quiet.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer};

use super::amqp::{Backoff, broker_backoff, declare_durable};
use crate::service::Service;

/// Where runs are announced: the broker and the queue's name (one per platform, so two
/// platforms sharing a broker never take each other's runs).
#[derive(Clone, Debug)]
pub struct RunQueue {
    pub url: String,
    pub queue: String,
}

/// How often the relay looks for runs that became due (new, retried, or not yet announced).
const RELAY_POLL: Duration = Duration::from_millis(100);
/// Runs announced per database round and per wait for the broker's confirms.
const RELAY_BATCH: i64 = 200;
/// How long a subscribed worker waits on the queue before it looks in the database itself.
pub const QUIET_QUEUE_POLL: Duration = Duration::from_secs(5);

impl RunQueue {
    async fn open_channel(&self) -> anyhow::Result<(Connection, Channel)> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        declare_durable(&channel, &self.queue).await?;
        Ok((connection, channel))
    }
}

/// The relay: announces due runs until the process ends, reconnecting with backoff.
pub async fn announce_forever(service: Service, queue: RunQueue) {
    let mut backoff = broker_backoff();
    loop {
        if let Err(err) = announce(&service, &queue, &mut backoff).await {
            let wait = backoff.next_wait();
            tracing::warn!(error = %err, queue = %queue.queue, retry_in_ms = wait.as_millis() as u64, "announcing runs on RabbitMQ paused");
            tokio::time::sleep(wait).await;
        }
    }
}

async fn announce(
    service: &Service,
    queue: &RunQueue,
    backoff: &mut Backoff,
) -> anyhow::Result<()> {
    let (_connection, channel) = queue.open_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    backoff.reset();
    tracing::info!(queue = %queue.queue, "announcing queued runs on RabbitMQ");
    loop {
        let ids = match service.announce_due_runs(RELAY_BATCH).await {
            Ok(ids) => ids,
            Err(err) => {
                tracing::warn!(error = %err.message, "cannot read the runs to announce");
                tokio::time::sleep(RELAY_POLL * 10).await;
                continue;
            }
        };
        if ids.is_empty() {
            tokio::time::sleep(RELAY_POLL).await;
            continue;
        }
        if let Err(err) = publish(&channel, &queue.queue, &ids).await {
            // Unconfirmed announcements are made again once the broker is back; a run the
            // broker did get is then announced twice, which its claim by id absorbs.
            if let Err(undo) = service.unannounce_runs(&ids).await {
                tracing::warn!(error = %undo.message, "cannot take back unconfirmed announcements; workers will find those runs in the database");
            }
            return Err(err);
        }
        tracing::debug!(runs = ids.len(), "announced queued runs");
    }
}

/// Publishes one persistent message per run and waits for the broker to confirm them all.
async fn publish(channel: &Channel, queue: &str, ids: &[String]) -> anyhow::Result<()> {
    let mut confirms = Vec::with_capacity(ids.len());
    for id in ids {
        let properties = BasicProperties::default()
            .with_message_id(id.as_str().into())
            .with_content_type("text/plain".into())
            .with_delivery_mode(2);
        let mandatory = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        confirms.push(
            channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    mandatory,
                    id.as_bytes(),
                    properties,
                )
                .await?,
        );
    }
    for confirm in confirms {
        match confirm.await? {
            Confirmation::Ack(None) => {}
            Confirmation::Ack(Some(_)) => {
                anyhow::bail!("the broker could not route a run to queue {queue}")
            }
            Confirmation::Nack(_) | Confirmation::NotRequested => {
                anyhow::bail!("the broker did not confirm a run's announcement")
            }
        }
    }
    Ok(())
}

/// One worker's subscription: one run at a time (prefetch 1), so runs spread over workers and
/// replicas instead of piling up behind a busy one.
pub struct Subscription {
    queue: RunQueue,
    consumer: Option<(Connection, Consumer)>,
    next_attempt: tokio::time::Instant,
    backoff: Backoff,
}

/// What a subscribed worker is told next.
pub enum Announcement {
    /// A run id to claim; ack or give back the delivery once the claim is decided.
    Run(String, Box<Delivery>),
    /// Nothing came for a while, or the broker is away: look in the database.
    Quiet,
}

impl Subscription {
    pub fn new(queue: RunQueue) -> Self {
        Self {
            queue,
            consumer: None,
            next_attempt: tokio::time::Instant::now(),
            backoff: broker_backoff(),
        }
    }

    /// Waits up to `patience` for an announced run.
    pub async fn next(&mut self, worker: usize, patience: Duration) -> Announcement {
        if self.consumer.is_none() {
            if tokio::time::Instant::now() < self.next_attempt {
                return Announcement::Quiet;
            }
            match self.subscribe(worker).await {
                Ok(consumer) => {
                    self.consumer = Some(consumer);
                    self.backoff.reset();
                }
                Err(err) => {
                    let wait = self.pause();
                    tracing::warn!(worker, error = %err, queue = %self.queue.queue, retry_in_ms = wait.as_millis() as u64, "cannot take runs from RabbitMQ; polling the database meanwhile");
                    return Announcement::Quiet;
                }
            }
        }
        let Some((_, consumer)) = self.consumer.as_mut() else {
            return Announcement::Quiet;
        };
        match tokio::time::timeout(patience, consumer.next()).await {
            Err(_) => Announcement::Quiet,
            Ok(Some(Ok(delivery))) => match std::str::from_utf8(&delivery.data) {
                Ok(id) => Announcement::Run(id.trim().to_owned(), Box::new(delivery)),
                Err(_) => {
                    tracing::warn!(worker, "dropped an announcement that is not a run id");
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                    Announcement::Quiet
                }
            },
            Ok(Some(Err(err))) => {
                tracing::warn!(worker, error = %err, "lost the RabbitMQ runs queue; polling the database meanwhile");
                self.pause();
                Announcement::Quiet
            }
            Ok(None) => {
                tracing::warn!(worker, "the broker cancelled the runs consumer");
                self.pause();
                Announcement::Quiet
            }
        }
    }

    async fn subscribe(&self, worker: usize) -> anyhow::Result<(Connection, Consumer)> {
        let (connection, channel) = self.queue.open_channel().await?;
        channel.basic_qos(1, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                self.queue.queue.as_str().into(),
                format!("plat-worker-{worker}-{}", std::process::id())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(worker, queue = %self.queue.queue, "taking runs from RabbitMQ");
        Ok((connection, consumer))
    }

    /// Drops the subscription until the backoff has passed; returns how long that is.
    fn pause(&mut self) -> Duration {
        let wait = self.backoff.next_wait();
        self.consumer = None;
        self.next_attempt = tokio::time::Instant::now() + wait;
        wait
    }
}

/// The claim is committed (or the run was not there to take): the announcement is done with.
pub async fn settle(delivery: &Delivery) {
    if let Err(err) = delivery.ack(BasicAckOptions::default()).await {
        // The claim holds in the database; a redelivery finds the run taken and is dropped.
        tracing::debug!(error = %err, "cannot ack a run announcement");
    }
}

/// The claim could not be decided (database away): back to the queue for another try.
pub async fn give_back(delivery: &Delivery) {
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(err) = delivery.nack(requeue).await {
        tracing::debug!(error = %err, "cannot give back a run announcement");
    }
}
