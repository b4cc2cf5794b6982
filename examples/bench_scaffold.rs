#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)] // a benchmark driver, not plat
//! Renders a Backstage template once into a fresh directory (for hyperfine), or N times
//! in-process and reports the median: `bench_scaffold TEMPLATE OUT [--iterations N]`.

use std::time::Instant;

use plat::internals::{Engine, Locator, ParameterInput, RunOptions, resolve_parameters, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (template_path, out) = match (args.get(1), args.get(2)) {
        (Some(template), Some(out)) => (template.clone(), std::path::PathBuf::from(out)),
        _ => return Err("usage: bench_scaffold TEMPLATE OUT [--iterations N]".into()),
    };
    let iterations: usize = match args.iter().position(|a| a == "--iterations") {
        Some(index) => args.get(index + 1).ok_or("--iterations needs N")?.parse()?,
        None => 1,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let engine = Engine::new();
    let mut timings = Vec::with_capacity(iterations);
    let mut files = 0;
    let mut first = std::time::Duration::ZERO;
    for iteration in 0..iterations {
        let started = Instant::now();
        let template = Locator::default().load(&template_path)?;
        let mut input = ParameterInput::default();
        input.add_set("name=bench-service")?;
        let values = resolve_parameters(&template, &input, None)?;
        let target = out.join(format!("run-{iteration}"));
        let result = runtime.block_on(run(
            &engine,
            &template,
            &target,
            &values,
            &RunOptions::default(),
        ))?;
        timings.push(started.elapsed());
        if iteration == 0 {
            first = started.elapsed();
        }
        files = result.files.len();
        // A single run leaves its output, like cookiecutter does, for hyperfine to compare.
        if iterations > 1 {
            std::fs::remove_dir_all(&target)?;
        }
    }
    timings.sort();
    let median = timings[timings.len() / 2];
    #[allow(clippy::print_stdout)]
    {
        println!(
            "rendered {files} files: median {:.1} ms, min {:.1} ms over {iterations} runs (first {:.1} ms)",
            median.as_secs_f64() * 1000.0,
            timings[0].as_secs_f64() * 1000.0,
            first.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
