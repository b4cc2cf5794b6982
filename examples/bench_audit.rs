#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark driver, not plat
//! `bench_audit URL N`: what the audit trail (R-GOV-3) costs a write. Creates 2 x N sub-accounts
//! of the master account through the service on the database at URL (a fresh one), one request
//! each, alternating between a service that appends the audit record and the same service
//! without it, so that a busy machine's drift hits both alike. Prints the time per create of
//! each and the difference. Driven by scripts/bench-audit.sh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plat::internals::{Bootstrap, CreateAccount, Identity, Origin, Service, Store, system_clock};

/// Creates before timing starts: the pool, the caches and the database warm up.
const WARMUP: usize = 20;

struct Times(Vec<Duration>);

impl Times {
    fn at(&self, q: f64) -> Duration {
        self.0[((self.0.len() - 1) as f64 * q) as usize]
    }

    fn mean(&self) -> Duration {
        let total: Duration = self.0.iter().sum();
        total / u32::try_from(self.0.len().max(1)).unwrap_or(u32::MAX)
    }

    fn line(&self) -> String {
        format!(
            "mean {:>6} us, p50 {:>6} us, p90 {:>6} us, p99 {:>6} us",
            self.mean().as_micros(),
            self.at(0.5).as_micros(),
            self.at(0.9).as_micros(),
            self.at(0.99).as_micros()
        )
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(count)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: bench_audit URL N");
    };
    let count: usize = count.parse()?;

    let store = Store::open(url, 4).await?;
    let audited = Service::new(store, system_clock());
    let unaudited = audited.clone().without_audit_for_benchmarks();
    audited
        .bootstrap(&Bootstrap {
            master_account: "platform".into(),
            admin_email: "bench@localhost".into(),
            default_tenant_domain: "localhost".into(),
        })
        .await?;
    let actor = audited
        .resolve_actor(&Identity::Operator, None, None)
        .await?;
    let actor = Arc::unwrap_or_clone(actor).with_origin(Origin::new("cli"));

    let (mut with, mut without) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for n in 0..2 * (WARMUP + count) {
        let service = if n % 2 == 0 { &audited } else { &unaudited };
        let request = CreateAccount {
            slug: format!("bench-{n}"),
            owner: format!("owner-{n}@bench.test"),
            ..CreateAccount::default()
        };
        let started = Instant::now();
        service.create_account(&actor, request).await?;
        let took = started.elapsed();
        if n >= 2 * WARMUP {
            if n % 2 == 0 { &mut with } else { &mut without }.push(took);
        }
    }
    with.sort();
    without.sort();
    let (with, without) = (Times(with), Times(without));
    println!("  with audit    {}", with.line());
    println!("  without audit {}", without.line());
    let p50 = with.at(0.5).as_secs_f64() - without.at(0.5).as_secs_f64();
    println!(
        "  audit cost per create: {:+.0} us at p50 ({:+.1} %), {:+.0} us in the mean",
        p50 * 1e6,
        100.0 * p50 / without.at(0.5).as_secs_f64(),
        (with.mean().as_secs_f64() - without.mean().as_secs_f64()) * 1e6
    );
    Ok(())
}
