//! The python that runs the tests' real helper servers (aiosmtpd for mail,
//! moto for S3): `STAMPEDE_TEST_PYTHON`, else the venv `scripts/test.sh`
//! makes (`target/test-venv`). Without it those tests fail, never skip.

pub fn python() -> String {
    if let Ok(p) = std::env::var("STAMPEDE_TEST_PYTHON") {
        return p;
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
    if std::path::Path::new(venv).exists() {
        venv.to_string()
    } else {
        "python3".to_string()
    }
}
