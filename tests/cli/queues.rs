//! Issue 7 with a real RabbitMQ (Debian's rabbitmq-server): queue-triggered automations run once
//! per message, through broker restarts and redeliveries (R-AUT-3, R-AUT-4, R-AUT-5).

use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use crate::services::{Server, idp, rabbitmq};
use crate::support::{ALICE, Backend, TestEnv, with_backend};

fn definition(name: &str, queue: &str) -> String {
    format!(
        r#"apiVersion: plat.dev/v1
kind: Automation
metadata: {{ name: {name}, description: One run per order message }}
spec:
  parameters:
    - {{ name: message, type: string }}
  trigger: {{ queue: {{ name: {queue} }} }}
  steps:
    - id: record
      action: exec
      input: {{ command: ["sh", "-c", "echo got ${{{{ parameters.message }}}}"] }}
"#
    )
}

/// Publishes persistent messages with ids, waiting for the broker's confirms.
fn publish(url: &str, queue: &str, messages: &[(&str, &str)]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await
            .unwrap();
        for (id, body) in messages {
            let properties = BasicProperties::default()
                .with_message_id((*id).into())
                .with_delivery_mode(2);
            channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    properties,
                )
                .await
                .unwrap()
                .await
                .unwrap();
        }
        connection.close(200, "done".into()).await.unwrap();
    });
}

fn runs(env: &TestEnv, automation: &str) -> Vec<serde_json::Value> {
    let listed = env
        .ok_as(ALICE, &["automation", "runs", automation, "-o", "json"])
        .json();
    listed.as_array().unwrap().clone()
}

#[test]
fn r_aut_4_a_rabbitmq_restart_mid_stream_loses_no_message_and_runs_none_twice() {
    with_backend(Backend::ServerPostgres, || {
        let broker = rabbitmq();
        let env = TestEnv::new();
        env.acme_managing_automations();
        let queue = format!("orders-{}", std::process::id());
        let file = env.root().join("ingest.yaml");
        std::fs::write(&file, definition("ingest", &queue)).unwrap();
        env.ok_as(
            ALICE,
            &["automation", "apply", "-f", file.to_str().unwrap()],
        );

        // A replica of the same platform that consumes RabbitMQ and runs what it queues.
        let server = env.server.as_ref().unwrap();
        let _consumer = Server::start_with(
            &idp().issuer,
            server.database_url.clone(),
            &env.root().join("consumer"),
            &[("PLAT_SERVER_AMQP_URL", broker.url.as_str())],
        );

        let first: Vec<(String, String)> = (0..10)
            .map(|i| (format!("m{i}"), format!("order-{i}")))
            .collect();
        let refs: Vec<(&str, &str)> = first
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        publish(&broker.url, &queue, &refs);
        broker.restart();
        // After the restart: ten new messages, and one the publisher sends again (same id).
        let second: Vec<(String, String)> = (10..20)
            .map(|i| (format!("m{i}"), format!("order-{i}")))
            .collect();
        let mut refs: Vec<(&str, &str)> = second
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        refs.push(("m3", "order-3"));
        publish(&broker.url, &queue, &refs);

        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let runs = runs(&env, "ingest");
            let finished = runs.iter().filter(|r| r["status"] == "succeeded").count();
            if finished >= 20 {
                assert_eq!(runs.len(), 20, "one run per distinct message: {runs:#?}");
                assert!(runs.iter().all(|r| r["trigger"] == "queue"), "{runs:#?}");
                let mut orders: Vec<String> = runs
                    .iter()
                    .map(|r| r["params"]["message"].as_str().unwrap().to_owned())
                    .collect();
                orders.sort_by_key(|o| o.trim_start_matches("order-").parse::<u32>().unwrap());
                let expected: Vec<String> = (0..20).map(|i| format!("order-{i}")).collect();
                assert_eq!(orders, expected);
                break;
            }
            assert!(Instant::now() < deadline, "runs so far: {runs:#?}");
            std::thread::sleep(Duration::from_millis(500));
        }
        let run_id = runs(&env, "ingest")[0]["id"].as_str().unwrap().to_owned();
        let logs = env.ok_as(ALICE, &["automation", "logs", &run_id]).stdout;
        assert!(logs.contains("got order-"), "{logs}");
    });
}

/// Sum of a Prometheus counter's samples whose labels contain `labels`, on `server`.
fn counter(server: &Server, name: &str, labels: &str) -> f64 {
    use std::io::{Read, Write};
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn r_aut_4_replicas_take_runs_from_rabbitmq_through_a_broker_restart_and_run_each_once() {
    with_backend(Backend::ServerPostgres, || {
        let broker = rabbitmq();
        let mut env = TestEnv::new();
        env.acme_managing_automations();
        let database_url = env.server.as_ref().unwrap().database_url.clone();
        // Two replicas handing runs to their workers through the broker; the queue is this
        // test's own, as each platform sharing a broker has its own.
        let runs_queue = format!("plat.runs.test-{}", std::process::id());
        let vars = [
            ("PLAT_SERVER_AMQP_URL", broker.url.as_str()),
            ("PLAT_SERVER_AMQP_RUNS_QUEUE", runs_queue.as_str()),
        ];
        env.use_server(Server::start_with(
            &idp().issuer,
            database_url.clone(),
            &env.root().join("replica-a"),
            &vars,
        ));
        let replica_b = Server::start_with(
            &idp().issuer,
            database_url,
            &env.root().join("replica-b"),
            &vars,
        );
        let ledger = env.root().join("ledger");
        let file = env.root().join("batch.yaml");
        std::fs::write(
            &file,
            format!(
                r#"apiVersion: plat.dev/v1
kind: Automation
metadata: {{ name: batch, description: Appends its number to a ledger }}
spec:
  parameters:
    - {{ name: n, type: string }}
  steps:
    - id: record
      action: exec
      input: {{ command: ["sh", "-c", "echo ${{{{ parameters.n }}}} >> {ledger}"] }}
"#,
                ledger = ledger.display()
            ),
        )
        .unwrap();
        env.ok_as(
            ALICE,
            &["automation", "apply", "-f", file.to_str().unwrap()],
        );

        let queue_run = |n: usize| {
            let param = format!("n={n}");
            env.ok_as(
                ALICE,
                &["automation", "run", "batch", "--param", &param, "--detach"],
            );
        };
        (0..8).for_each(&queue_run);
        broker.restart();
        (8..16).for_each(&queue_run);

        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let runs = runs(&env, "batch");
            if runs.iter().filter(|r| r["status"] == "succeeded").count() == 16 {
                break;
            }
            assert!(Instant::now() < deadline, "runs so far: {runs:#?}");
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut ledger: Vec<usize> = std::fs::read_to_string(&ledger)
            .unwrap()
            .lines()
            .map(|n| n.parse().unwrap())
            .collect();
        ledger.sort_unstable();
        assert_eq!(
            ledger,
            (0..16).collect::<Vec<_>>(),
            "every run ran exactly once"
        );

        let replicas = [env.server.as_ref().unwrap(), &replica_b];
        let claimed = |via: &str| -> f64 {
            let labels = format!("via=\"{via}\"");
            replicas
                .iter()
                .map(|r| counter(r, "plat_automation_runs_claimed_total", &labels))
                .sum()
        };
        let (rabbitmq, database) = (claimed("rabbitmq"), claimed("database"));
        assert_eq!(
            rabbitmq + database,
            16.0,
            "each run taken once across the replicas"
        );
        // Runs queued while a worker's subscription waits out its reconnect back-off are
        // rightly found in the database, so on a loaded machine not every run comes through the
        // broker; most of those queued before the restart do.
        assert!(
            rabbitmq >= 4.0,
            "runs are handed over by the broker, not only found by polling: {rabbitmq} via RabbitMQ, {database} via the database"
        );
    });
}
