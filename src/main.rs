//! The `stampede` binary: configuration, tracing, then the application.

use stampede::config::Settings;

/// The hot path allocates small, short-lived values on many threads;
/// mimalloc handles that markedly better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use stampede::startup::Application;
use stampede::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let settings = Settings::load()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}
