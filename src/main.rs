fn main() -> std::process::ExitCode {
    let code = plat::run(std::env::args_os().collect(), plat::Env::from_process());
    std::process::ExitCode::from(code)
}
