//! Queue triggers (DOMAIN.md R-AUT-3, R-AUT-4): a message on an automation's RabbitMQ queue
//! becomes a queued run of it, owned and authorized like a run its owner started. The broker
//! delivers at least once; the run id is derived from the message id, so a redelivered
//! message finds its run instead of starting a second one.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::vocabulary::AuditAction;
use super::{Error, Identity, Result, Service};
use crate::api::{RunStarted, StartRun};
use crate::automation::Definition;
use crate::automation::definition::Trigger;
use crate::store;

/// One automation listening on one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueBinding {
    pub automation: String,
    pub account: String,
    pub owner: String,
    pub queue: String,
}

/// The parameter a queue-triggered automation declares to receive the message body.
pub const MESSAGE_PARAMETER: &str = "message";

impl Service {
    /// Every automation with a queue trigger, in every account: what the server consumes.
    pub async fn queue_bindings(&self) -> Result<Vec<QueueBinding>> {
        let mut conn = self.store.acquire().await?;
        let rows = store::list_queue_triggered_automations(&mut conn).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let definition: Definition = serde_json::from_str(&row.definition).ok()?;
                match definition.spec.trigger {
                    Trigger::Queue(queue) => Some(QueueBinding {
                        automation: row.name,
                        account: row.account_slug,
                        owner: row.owner_email,
                        queue: queue.name,
                    }),
                    _ => None,
                }
            })
            .collect())
    }

    /// Queues a run for a message taken from `binding`'s queue, as the automation's owner.
    pub async fn run_from_queue(
        &self,
        binding: &QueueBinding,
        message_id: Option<&str>,
        body: &[u8],
    ) -> Result<RunStarted> {
        let owner = self
            .resolve_actor(
                &Identity::Email(binding.owner.clone()),
                Some(&binding.account),
                None,
            )
            .await?;
        let automation = self.get_automation(&owner, &binding.automation).await?;
        let declares_message = automation.definition["spec"]["parameters"]
            .as_array()
            .is_some_and(|params| params.iter().any(|p| p["name"] == MESSAGE_PARAMETER));
        let mut params = BTreeMap::new();
        if declares_message {
            let text = std::str::from_utf8(body).map_err(|_| {
                Error::invalid(format!(
                    "a message on queue '{}' is not UTF-8 text",
                    binding.queue
                ))
            })?;
            params.insert(MESSAGE_PARAMETER.to_owned(), text.to_owned());
        }
        let id = match message_id {
            Some(message_id) => run_id_for_message(binding, message_id),
            None => store::new_id(),
        };
        let request = StartRun {
            params,
            queue: true,
            runner: None,
        };
        let owner = std::sync::Arc::unwrap_or_clone(owner)
            .with_origin(super::Origin::new(format!("queue {}", binding.queue)));
        let automation = binding.automation.as_str();
        self.audited(
            &owner,
            AuditAction::AutomationRun,
            automation,
            async |tx: &mut store::Conn| {
                self.start_run_with_id(tx, &owner, automation, request, id, "queue")
                    .await
            },
        )
        .await
    }
}

/// The same message on the same automation always maps to the same run id (26 characters, the
/// alphabet of the ULIDs other runs get).
fn run_id_for_message(binding: &QueueBinding, message_id: &str) -> String {
    let digest = Sha256::digest(format!(
        "{}\0{}\0{}\0{message_id}",
        binding.account, binding.automation, binding.queue
    ));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ulid::Ulid::from_bytes(bytes).to_string().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_always_names_the_same_run_and_only_on_its_automation() {
        let binding = QueueBinding {
            automation: "ingest".into(),
            account: "acme".into(),
            owner: "alice@acme.test".into(),
            queue: "orders".into(),
        };
        let other = QueueBinding {
            automation: "other".into(),
            ..binding.clone()
        };
        let id = run_id_for_message(&binding, "m-1");
        assert_eq!(id, run_id_for_message(&binding, "m-1"));
        assert_eq!(id.len(), 26);
        assert_ne!(id, run_id_for_message(&binding, "m-2"));
        assert_ne!(id, run_id_for_message(&other, "m-1"));
    }
}
