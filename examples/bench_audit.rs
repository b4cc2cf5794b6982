#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark driver, not plat
//! `bench_audit URL N [--without-audit]`: what the audit trail (R-GOV-3) costs a write. Creates
//! N sub-accounts of the master account through the service, one request each, on the
//! database at URL (a fresh one per run), and prints the time per create. With
//! `--without-audit` the same service appends no records; the difference is the trail's cost.
//! Driven by scripts/bench-audit.sh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plat::api::CreateAccount;
use plat::service::{Bootstrap, Identity, Origin, Service, system_clock};
use plat::store::Store;

/// Creates before timing starts: the pool, the caches and the database warm up.
const WARMUP: usize = 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(count)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: bench_audit URL N [--without-audit]");
    };
    let count: usize = count.parse()?;
    let audited = !args.iter().any(|a| a == "--without-audit");

    let store = Store::open(url, 4).await?;
    let mut service = Service::new(store, system_clock());
    if !audited {
        service = service.without_audit_for_benchmarks();
    }
    service
        .bootstrap(&Bootstrap {
            master_account: "platform".into(),
            admin_email: "bench@localhost".into(),
            default_tenant_domain: "localhost".into(),
        })
        .await?;
    let actor = service
        .resolve_actor(&Identity::Operator, None, None)
        .await?;
    let actor = Arc::unwrap_or_clone(actor).with_origin(Origin::new("cli"));

    let mut times = Vec::with_capacity(count);
    for n in 0..WARMUP + count {
        let request = CreateAccount {
            slug: format!("bench-{n}"),
            owner: format!("owner-{n}@bench.test"),
            ..CreateAccount::default()
        };
        let started = Instant::now();
        service.create_account(&actor, request).await?;
        if n >= WARMUP {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let total: Duration = times.iter().sum();
    let mean = total / u32::try_from(times.len().max(1))?;
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "{} {count} account creates: mean {} us, p50 {} us, p99 {} us",
        if audited { "audited  " } else { "unaudited" },
        mean.as_micros(),
        at(0.5).as_micros(),
        at(0.99).as_micros()
    );
    Ok(())
}
