//! A real S3-compatible server for the media tests: moto's server
//! (`python -m moto.server`), run by [`python`] on a port of its own, with
//! one bucket made for the test. moto takes any credentials; the app signs
//! its requests as it would for any S3-compatible store.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::python::python;

pub struct S3Server {
    pub port: u16,
    pub bucket: String,
    _child: Child,
}

impl S3Server {
    /// Starts the server and makes `bucket` in it.
    pub async fn start(bucket: &str) -> Self {
        let port = super::process::free_port();
        let python = python();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {python} (set STAMPEDE_TEST_PYTHON, or run scripts/test.sh): {e}"
                )
            });
        let server = Self {
            port,
            bucket: bucket.to_string(),
            _child: child,
        };
        let client = reqwest::Client::new();
        let mut made = None;
        for _ in 0..150 {
            // CreateBucket; moto accepts it unsigned.
            match client.put(server.bucket_url()).send().await {
                Ok(res) => {
                    made = Some(res.status());
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        match made {
            Some(status) if status.is_success() => server,
            other => panic!(
                "moto ({python} -m moto.server) did not make bucket {bucket}: {other:?}; \
                 set STAMPEDE_TEST_PYTHON to a python with moto[server], or run scripts/test.sh"
            ),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn bucket_url(&self) -> String {
        format!("{}/{}", self.endpoint(), self.bucket)
    }

    /// The app's configuration for this bucket, as an operator would give
    /// it: `STAMPEDE_MEDIA_URL` and the usual `AWS_*` variables.
    pub fn app_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STAMPEDE_MEDIA_URL", format!("s3://{}", self.bucket)),
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "stampede-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "stampede-test-secret".into()),
        ]
    }

    /// The keys of every object in the bucket, sorted (ListObjectsV2).
    pub async fn keys(&self) -> Vec<String> {
        let body = reqwest::get(format!("{}?list-type=2", self.bucket_url()))
            .await
            .expect("list the bucket")
            .text()
            .await
            .expect("listing");
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect();
        keys.sort();
        keys
    }
}
