//! Media on an S3-compatible store (issue 13): the real binary configured
//! as an operator would (`STAMPEDE_MEDIA_URL=s3://…` and the `AWS_*`
//! variables) against a real S3 server (moto). An upload's objects land in
//! the bucket, are served back from it, and leave it with their image.

mod common;

use common::TestDb;
use common::process::{self, account, free_port};
use common::s3::S3Server;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};
use std::io::Cursor;

const BOUNDARY: &str = "stampede-s3-boundary-41c9";

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 7]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

fn multipart(bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The object key behind a `/media/{key}` URL.
fn key_of(size: &Value) -> String {
    size["url"]
        .as_str()
        .and_then(|u| u.strip_prefix("/media/"))
        .expect("a /media/ URL")
        .to_string()
}

#[tokio::test]
async fn images_live_in_an_s3_bucket() {
    let s3 = S3Server::start("shop-media").await;
    let db = TestDb::sqlite().await;
    let port = free_port();
    let mut env = s3.app_env();
    // Smaller than the upload, so each size is an object of its own.
    env.push(("STAMPEDE_MEDIA_DISPLAY_PX", "320".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _app = process::start_binary(&db.url, port, &env).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let seller = account(&client, &base, "s3-seller@shop.test", "seller").await;
    let product = process::post(
        &client,
        format!("{base}/api/v1/products"),
        Some(&seller),
        json!({"name": "Lens", "category": "cameras",
               "skus": [{"sku_code": "L-1", "option": "50mm", "price": 300_000, "stock": 5}]}),
    )
    .await["id"]
        .as_i64()
        .expect("product id");

    let original = png(640, 480);
    let res = client
        .post(format!("{base}/api/v1/products/{product}/images"))
        .bearer_auth(&seller)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&original))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let image: Value = res.json().await.expect("image");
    let mut keys: Vec<String> = ["original", "display", "thumbnail"]
        .iter()
        .map(|size| key_of(&image[size]))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "{image}");

    // The objects are in the bucket, not on the app's disk.
    assert_eq!(s3.keys().await, keys);

    // Served back from the bucket, byte for byte, with its caching headers.
    let res = client
        .get(format!("{base}/media/{}", key_of(&image["original"])))
        .send()
        .await
        .expect("GET media");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        res.bytes().await.expect("bytes").as_ref(),
        original.as_slice()
    );
    let thumb = client
        .get(format!("{base}/media/{}", key_of(&image["thumbnail"])))
        .send()
        .await
        .expect("GET thumbnail")
        .bytes()
        .await
        .expect("bytes");
    let thumb = image::load_from_memory(&thumb).expect("decodes");
    assert_eq!(
        (
            Some(u64::from(thumb.width())),
            Some(u64::from(thumb.height()))
        ),
        (
            image["thumbnail"]["width"].as_u64(),
            image["thumbnail"]["height"].as_u64()
        )
    );

    // Deleting the image deletes its objects from the bucket.
    let id = image["id"].as_i64().expect("image id");
    let res = client
        .delete(format!("{base}/api/v1/products/{product}/images/{id}"))
        .bearer_auth(&seller)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    assert_eq!(s3.keys().await, Vec::<String>::new());
    let gone = client
        .get(format!("{base}/media/{}", key_of(&image["original"])))
        .send()
        .await
        .expect("GET media");
    assert_eq!(gone.status(), 404);
}
