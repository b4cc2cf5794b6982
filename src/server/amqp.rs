//! RabbitMQ queue triggers (issue 7, R-AUT-4): with `--amqp-url`, the server consumes the queue
//! of every automation triggered by one and queues a run per message. Messages are acked only
//! once their run is recorded, queues are durable, and run ids come from message ids, so a
//! broker restart or a second replica consuming the same queue loses or doubles nothing.

use std::time::Duration;

pub(super) use crate::backoff::Backoff;

use futures_util::StreamExt;
use futures_util::stream::SelectAll;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};

use crate::service::{ErrorKind, QueueBinding, Service};

/// How often the set of queue-triggered automations is re-read, to follow `apply`/`delete`.
const REFRESH: Duration = Duration::from_secs(3);
/// Unacked messages one replica holds at a time; the rest stay in the broker for the others.
const PREFETCH: u16 = 32;

/// Consumes until the process ends, reconnecting with backoff whenever the broker goes away.
pub async fn consume_forever(service: Service, url: String) {
    let mut backoff = broker_backoff();
    loop {
        match consume(&service, &url).await {
            Ok(()) => backoff.reset(),
            Err(err) => {
                let wait = backoff.next_wait();
                tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64, "RabbitMQ queue triggers paused");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// How long to wait before reaching for the broker again: from half a second, doubling up to
/// 30 s, and from the start again once it answered.
pub(super) fn broker_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
}

/// Declares `queue` durable, so it and its persistent messages survive a broker restart.
pub(super) async fn declare_durable(channel: &Channel, queue: &str) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.into(), durable, FieldTable::default())
        .await?;
    Ok(())
}

/// One connection's life: consume every bound queue until the bindings change (`Ok`) or the
/// connection fails (`Err`).
async fn consume(service: &Service, url: &str) -> anyhow::Result<()> {
    let bindings = service.queue_bindings().await.map_err(anyhow_of)?;
    if bindings.is_empty() {
        wait_for_change(service, &bindings).await;
        return Ok(());
    }
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut deliveries = SelectAll::new();
    for (index, binding) in bindings.iter().enumerate() {
        declare_durable(&channel, &binding.queue).await?;
        let consumer = channel
            .basic_consume(
                binding.queue.as_str().into(),
                format!("plat-{}-{}", binding.account, binding.automation)
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        deliveries.push(consumer.map(move |delivery| (index, delivery)));
    }
    tracing::info!(queues = bindings.len(), "consuming RabbitMQ queue triggers");
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.tick().await;
    loop {
        tokio::select! {
            next = deliveries.next() => match next {
                None => anyhow::bail!("the broker cancelled the consumers"),
                Some((_, Err(err))) => return Err(err.into()),
                Some((index, Ok(delivery))) => handle(service, &bindings[index], delivery).await?,
            },
            _ = refresh.tick() => {
                if service.queue_bindings().await.map_err(anyhow_of)? != bindings {
                    let _ = connection.close(200, "automations changed".into()).await;
                    return Ok(());
                }
            }
        }
    }
}

/// Records the message's run, then acks. A message that can never become a run (its automation
/// refuses it, its owner lost the right to run it) is rejected rather than redelivered forever;
/// anything else (the database is down) leaves it unacked for redelivery.
async fn handle(
    service: &Service,
    binding: &QueueBinding,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.to_string());
    match service
        .run_from_queue(binding, message_id.as_deref(), &delivery.data)
        .await
    {
        Ok(started) => {
            tracing::info!(run = %started.run.id, automation = %binding.automation, queue = %binding.queue, "queued a run for a message");
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Err(err)
            if matches!(
                err.kind,
                ErrorKind::Invalid
                    | ErrorKind::NotFound
                    | ErrorKind::PermissionDenied
                    | ErrorKind::Unauthenticated
            ) =>
        {
            tracing::warn!(automation = %binding.automation, queue = %binding.queue, error = %err.message, "rejected a message that cannot run");
            delivery
                .reject(BasicRejectOptions { requeue: false })
                .await?;
        }
        Err(err) => anyhow::bail!("cannot record a run for a message: {}", err.message),
    }
    Ok(())
}

async fn wait_for_change(service: &Service, bindings: &[QueueBinding]) {
    loop {
        tokio::time::sleep(REFRESH).await;
        match service.queue_bindings().await {
            Ok(now) if now != bindings => return,
            _ => {}
        }
    }
}

fn anyhow_of(err: crate::service::Error) -> anyhow::Error {
    anyhow::anyhow!(err.message)
}
