#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // a benchmark driver, not plat
//! `bench_scan generate N FILE` writes a corpus of N objects; `bench_scan run FILE…` scans it
//! with the full rule set on one thread and prints objects/s.
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use plat::internals::{CountingSink, KustomizeRenderer, ManifestOptions, ScanConfig, scan_paths};

fn deployment(i: usize) -> String {
    let tenant = if i.is_multiple_of(7) {
        String::new()
    } else {
        format!("    appgear.io/tenant-id: t{}\n", i % 13)
    };
    let image = if i.is_multiple_of(5) {
        "nginx:latest".to_string()
    } else {
        format!("registry.example.com/team/app{}:1.{}.0", i % 50, i % 9)
    };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: ns-{ns}
  labels:
    app.kubernetes.io/name: app-{i}
    app.kubernetes.io/part-of: shop
    appgear.io/tier: backend
    appgear.io/suite: core
    appgear.io/topology: standard
    appgear.io/workspace-id: ws-{ns}
{tenant}  annotations:
    appgear.io/contract-version: \"1\"
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      containers:
        - name: app
          image: {image}
          ports:
            - containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
",
        ns = i % 20
    )
}

fn service(i: usize) -> String {
    let kind = if i.is_multiple_of(11) {
        "NodePort"
    } else {
        "ClusterIP"
    };
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: ns-{ns}
  labels:
    app.kubernetes.io/part-of: shop
    appgear.io/tier: backend
    appgear.io/suite: core
    appgear.io/topology: standard
    appgear.io/workspace-id: ws-{ns}
    appgear.io/tenant-id: t{t}
spec:
  type: {kind}
  selector:
    app: app-{i}
  ports:
    - port: 80
      targetPort: 8080
",
        ns = i % 20,
        t = i % 13
    )
}

/// A findings-heavy object: exactly 4 findings (no tenant label PLAT001, `latest` image PLAT005,
/// no probes PLAT007, may run as root PLAT009).
fn heavy(i: usize) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: heavy-{i}
  namespace: ns-{ns}
  labels:
    app.kubernetes.io/part-of: shop
    appgear.io/tier: backend
    appgear.io/suite: core
    appgear.io/topology: standard
    appgear.io/workspace-id: ws-{ns}
spec:
  selector:
    matchLabels:
      app: heavy-{i}
  template:
    metadata:
      labels:
        app: heavy-{i}
    spec:
      containers:
        - name: app
          image: nginx:latest
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
",
        ns = i % 20
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let count: usize = args[2].parse().expect("N");
            let mut out = std::io::BufWriter::new(std::fs::File::create(&args[3]).expect("create"));
            for i in 0..count {
                let doc = if i % 2 == 0 {
                    deployment(i)
                } else {
                    service(i)
                };
                write!(out, "---\n{doc}").expect("write");
            }
        }
        Some("generate-heavy") => {
            let count: usize = args[2].parse().expect("N");
            let mut out = std::io::BufWriter::new(std::fs::File::create(&args[3]).expect("create"));
            for i in 0..count {
                write!(out, "---\n{}", heavy(i)).expect("write");
            }
        }
        Some("split") => {
            // `split N DIR`: one object per file (for tools that want a directory).
            let count: usize = args[2].parse().expect("N");
            let dir = PathBuf::from(&args[3]);
            std::fs::create_dir_all(&dir).expect("dir");
            for i in 0..count {
                let doc = if i % 2 == 0 {
                    deployment(i)
                } else {
                    service(i)
                };
                std::fs::write(dir.join(format!("obj-{i:06}.yaml")), doc).expect("write");
            }
        }
        Some("run") => {
            let paths: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
            let config = ScanConfig::default();
            let mut options = ManifestOptions::new(&config);
            options.kustomize = KustomizeRenderer::Disabled;
            let mut sink = CountingSink::default();
            let start = Instant::now();
            scan_paths(&paths, &options, &mut sink).expect("scan");
            let secs = start.elapsed().as_secs_f64();
            let mut stdout = std::io::stdout();
            writeln!(
                stdout,
                "objects={} findings={} problems={} seconds={secs:.3} objects_per_second={:.0}",
                sink.resources,
                sink.findings,
                sink.problems,
                sink.resources as f64 / secs
            )
            .expect("stdout");
        }
        _ => panic!("usage: bench_scan generate|generate-heavy N FILE | split N DIR | run PATH…"),
    }
}
