//! The server's trigger loop: every second, reclaims runs whose worker died, fires due schedule
//! ticks and keeps constant automations running. Every replica runs it; the database makes each
//! action happen once (see `service::automation_triggers`). The first round runs at start, so a
//! server restarted after a crash reclaims what its previous life left running at once (as soon
//! as those leases have lapsed).

use std::collections::HashMap;
use std::time::Duration;

use crate::service::Service;

const ROUND: Duration = Duration::from_secs(1);

pub async fn run_forever(service: Service, max_attempts: i64) {
    let mut fired = HashMap::new();
    let mut tick = tokio::time::interval(ROUND);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = service.reclaim_lapsed_runs(max_attempts).await {
            tracing::warn!(error = %err.message, "cannot reclaim lapsed automation runs");
        }
        if let Err(err) = service.run_triggers(&mut fired).await {
            tracing::warn!(error = %err.message, "automation trigger round failed");
        }
    }
}
