//! Product images and profile pictures over real HTTP on both stores:
//! uploads checked from their bytes (not names or content types), the
//! display size and thumbnail made from them, objects served with a strong
//! ETag and immutable caching, and deleted with their image, their product
//! or a replaced picture (checked in the media directory itself).

mod common;

use common::{TestApp, TestDb, assert_problem, spawn_app_with};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Cursor;

const BOUNDARY: &str = "stampede-test-boundary-7d1f";

fn settings(db: &TestDb) -> stampede::config::Settings {
    let mut s = common::app_settings(db);
    s.media.display_px = 200;
    s.media.thumbnail_px = 64;
    s.media.max_bytes = 256 * 1024;
    s.media.max_pixels = 1_000_000;
    s.media.images_per_product = 3;
    s
}

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

/// A `multipart/form-data` body with one file part: its content type and
/// bytes.
fn form(field: &str, filename: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
         filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

async fn send_form(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    (content_type, body): (String, Vec<u8>),
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("upload")
}

async fn upload(
    app: &TestApp,
    product: i64,
    token: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    send_form(
        app,
        Method::POST,
        &format!("/api/v1/products/{product}/images"),
        token,
        form("file", "photo.png", "image/png", bytes),
    )
    .await
}

async fn create_product(app: &TestApp, token: &str) -> i64 {
    let res = app
        .post_json(
            "/api/v1/products",
            Some(token),
            json!({"name": "Camera", "category": "cameras",
                   "skus": [{"sku_code": "C-1", "option": "Body", "price": 900_000, "stock": 3}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("product");
    body["id"].as_i64().expect("id")
}

/// The names of the objects in the app's media directory.
fn objects(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(app.db.media.path())
        .expect("media dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The object's name in the media directory, from its URL.
fn object_name(url: &Value) -> String {
    url.as_str()
        .and_then(|u| u.strip_prefix("/media/"))
        .expect("a /media/ URL")
        .to_string()
}

/// The objects of an image's three sizes. A size that came out the same
/// as another (a small image re-encoded) is the same object.
fn names_of(image: &Value) -> Vec<String> {
    let mut names: Vec<String> = ["original", "display", "thumbnail"]
        .iter()
        .map(|size| object_name(&image[size]["url"]))
        .collect();
    names.sort();
    names.dedup();
    names
}

async fn seller_uploads_and_the_shop_serves(db: TestDb) {
    let s = settings(&db);
    let app = spawn_app_with(db, s).await;
    let (seller, token) = app.user("seller").await;
    let product = create_product(&app, &token).await;
    let png = encoded(400, 300, ImageFormat::Png);
    let res = upload(&app, product, Some(&token), &png).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let first: Value = res.json().await.expect("image");
    assert_eq!(first["product_id"], product);
    assert_eq!(first["content_type"], "image/png");
    assert_eq!(first["bytes"], png.len());
    assert_eq!(
        (
            first["original"]["width"].as_u64(),
            first["original"]["height"].as_u64()
        ),
        (Some(400), Some(300))
    );
    assert_eq!(
        (
            first["display"]["width"].as_u64(),
            first["display"]["height"].as_u64()
        ),
        (Some(200), Some(150))
    );
    assert_eq!(
        (
            first["thumbnail"]["width"].as_u64(),
            first["thumbnail"]["height"].as_u64()
        ),
        (Some(64), Some(48))
    );

    // The thumbnail is served, decodes to its size, and caches forever.
    let thumb_url = first["thumbnail"]["url"].as_str().expect("url").to_string();
    let res = app.get(&thumb_url, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let thumb = image::load_from_memory(&res.bytes().await.expect("bytes")).expect("decodes");
    assert_eq!((thumb.width(), thumb.height()), (64, 48));
    let again = app
        .client
        .get(app.url(&thumb_url))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().expect("etag"), etag);
    let other = app
        .client
        .get(app.url(&thumb_url))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(other.status(), 200);
    // The original is the upload, byte for byte.
    let original = app
        .get(first["original"]["url"].as_str().expect("url"), None)
        .await;
    assert_eq!(
        original.bytes().await.expect("bytes").as_ref(),
        png.as_slice()
    );

    // A JPEG stays a JPEG.
    let jpeg = encoded(300, 300, ImageFormat::Jpeg);
    let res = send_form(
        &app,
        Method::POST,
        &format!("/api/v1/products/{product}/images"),
        Some(&token),
        form("file", "no-extension", "application/octet-stream", &jpeg),
    )
    .await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.expect("image");
    assert_eq!(second["content_type"], "image/jpeg");
    assert_eq!(second["display"]["width"], 200);
    let display = app
        .get(second["display"]["url"].as_str().expect("url"), None)
        .await;
    assert_eq!(display.headers()["content-type"], "image/jpeg");

    // Detail and listing carry the URLs; the first image is the cover.
    let detail = app
        .get_json(&format!("/api/v1/products/{product}"), None)
        .await;
    let images = detail["images"].as_array().expect("images");
    assert_eq!(images.len(), 2);
    assert_eq!(images[0], first);
    assert_eq!(images[1], second);
    let list = app
        .get_json(&format!("/api/v1/products?seller_id={seller}"), None)
        .await;
    assert_eq!(list["items"][0]["cover_image"], first);
    // Reordered: the second becomes the cover.
    let images_path = format!("/api/v1/products/{product}/images");
    let res = app
        .send(
            Method::PATCH,
            &images_path,
            Some(&token),
            Some(json!({"order": [second["id"], first["id"]]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let reordered: Value = res.json().await.expect("images");
    assert_eq!(reordered[0]["id"], second["id"]);
    assert_eq!(reordered[1]["id"], first["id"]);
    let list = app
        .get_json(&format!("/api/v1/products?seller_id={seller}"), None)
        .await;
    assert_eq!(list["items"][0]["cover_image"]["id"], second["id"]);
    for bad in [
        json!({"order": [first["id"]]}),
        json!({"order": [first["id"], first["id"]]}),
        json!({"order": [first["id"], 999_999]}),
    ] {
        let res = app
            .send(Method::PATCH, &images_path, Some(&token), Some(bad))
            .await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let (_, other) = app.user("seller").await;
    let res = app
        .send(
            Method::PATCH,
            &images_path,
            Some(&other),
            Some(json!({"order": [first["id"], second["id"]]})),
        )
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let mut stored = names_of(&first);
    stored.extend(names_of(&second));
    stored.sort();
    assert_eq!(objects(&app), stored);

    // Deleting an image deletes its three objects, and only those.
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/products/{product}/images/{}", first["id"]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let mut left = names_of(&second);
    left.sort();
    assert_eq!(objects(&app), left);
    assert_problem(app.get(&thumb_url, None).await, 404, "NOT_FOUND").await;
    let detail = app
        .get_json(&format!("/api/v1/products/{product}"), None)
        .await;
    assert_eq!(detail["images"].as_array().map(Vec::len), Some(1));
    let list = app
        .get_json(&format!("/api/v1/products?seller_id={seller}"), None)
        .await;
    assert_eq!(list["items"][0]["cover_image"]["id"], second["id"]);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/products/{product}/images/{}", first["id"]),
            Some(&token),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;

    // Deleting the product deletes the rest.
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/products/{product}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert!(objects(&app).is_empty(), "{:?}", objects(&app));
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM product_images")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(rows, 0);
    app.stop().await;
}

async fn uploads_are_checked_from_their_bytes(db: TestDb) {
    let s = settings(&db);
    let app = spawn_app_with(db, s).await;
    let (_, token) = app.user("seller").await;
    let product = create_product(&app, &token).await;
    let path = format!("/api/v1/products/{product}/images");

    // A text file named .png and sent as image/png.
    let res = upload(
        &app,
        product,
        Some(&token),
        b"this is not an image, whatever its name",
    )
    .await;
    assert_problem(res, 415, "VALIDATION_FAILED").await;
    // Over the byte limit (a PNG signature does not help).
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(300 * 1024, 0);
    let res = upload(&app, product, Some(&token), &big).await;
    assert_problem(res, 413, "PAYLOAD_TOO_LARGE").await;
    // A small file of too many pixels.
    let wide = encoded(1200, 1000, ImageFormat::Png);
    assert!(wide.len() < 256 * 1024);
    let res = upload(&app, product, Some(&token), &wide).await;
    let body = assert_problem(res, 413, "PAYLOAD_TOO_LARGE").await;
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("1200x1000"),
        "{body}"
    );
    // A PNG cut short.
    let mut cut = encoded(100, 100, ImageFormat::Png);
    cut.truncate(60);
    let res = upload(&app, product, Some(&token), &cut).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    // Not multipart at all, another field, no field.
    let res = app
        .post_json(&path, Some(&token), json!({"file": "aGVsbG8="}))
        .await;
    assert_problem(res, 415, "VALIDATION_FAILED").await;
    let png = encoded(300, 240, ImageFormat::Png);
    let res = send_form(
        &app,
        Method::POST,
        &path,
        Some(&token),
        form("image", "a.png", "image/png", &png),
    )
    .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let empty = (
        format!("multipart/form-data; boundary={BOUNDARY}"),
        format!("--{BOUNDARY}--\r\n").into_bytes(),
    );
    let res = send_form(&app, Method::POST, &path, Some(&token), empty).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    assert!(objects(&app).is_empty(), "{:?}", objects(&app));

    // At most `images_per_product` images.
    for _ in 0..3 {
        assert_eq!(
            upload(&app, product, Some(&token), &png).await.status(),
            201
        );
    }
    assert_problem(
        upload(&app, product, Some(&token), &png).await,
        409,
        "CONFLICT",
    )
    .await;
    assert_eq!(objects(&app).len(), 9);
    app.stop().await;
}

async fn only_the_seller_manages_images(db: TestDb) {
    let s = settings(&db);
    let app = spawn_app_with(db, s).await;
    let (_, token) = app.user("seller").await;
    let (_, other) = app.user("seller").await;
    let (_, customer) = app.user("customer").await;
    let product = create_product(&app, &token).await;
    let png = encoded(300, 240, ImageFormat::Png);
    assert_problem(upload(&app, product, None, &png).await, 401, "UNAUTHORIZED").await;
    assert_problem(
        upload(&app, product, Some(&customer), &png).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        upload(&app, product, Some(&other), &png).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        upload(&app, 999_999, Some(&token), &png).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert!(objects(&app).is_empty());

    let res = upload(&app, product, Some(&token), &png).await;
    assert_eq!(res.status(), 201);
    let image: Value = res.json().await.expect("image");
    let path = format!("/api/v1/products/{product}/images/{}", image["id"]);
    assert_problem(
        app.send(Method::DELETE, &path, None, None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_problem(
        app.send(Method::DELETE, &path, Some(&other), None).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        app.send(Method::DELETE, &path, Some(&customer), None).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let elsewhere = create_product(&app, &other).await;
    let wrong = format!("/api/v1/products/{elsewhere}/images/{}", image["id"]);
    assert_problem(
        app.send(Method::DELETE, &wrong, Some(&other), None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(objects(&app).len(), 3);
    // An admin moderates.
    let admin = app.admin_token().await;
    assert_eq!(
        app.send(Method::DELETE, &path, Some(&admin), None)
            .await
            .status(),
        204
    );
    assert!(objects(&app).is_empty());
    // Keys that are not keys never reach the store.
    for bad in ["/media/..%2Fstampede.db", "/media/x.png", "/media/a-b.exe"] {
        assert_problem(app.get(bad, None).await, 404, "NOT_FOUND").await;
    }
    app.stop().await;
}

async fn profile_picture_is_set_replaced_and_deleted(db: TestDb) {
    let s = settings(&db);
    let app = spawn_app_with(db, s).await;
    let (_, token) = app.user("customer").await;
    let me = app.get_json("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["picture_url"], Value::Null);
    let picture = |bytes: &[u8]| form("file", "me.jpg", "image/jpeg", bytes);
    let res = send_form(
        &app,
        Method::PUT,
        "/api/v1/users/me/picture",
        None,
        picture(&encoded(10, 10, ImageFormat::Png)),
    )
    .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;

    let res = send_form(
        &app,
        Method::PUT,
        "/api/v1/users/me/picture",
        Some(&token),
        picture(&encoded(300, 600, ImageFormat::Jpeg)),
    )
    .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let first: Value = res.json().await.expect("picture");
    assert_eq!(
        (
            first["display"]["width"].as_u64(),
            first["display"]["height"].as_u64()
        ),
        (Some(100), Some(200))
    );
    let me = app.get_json("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["picture_url"], first["display"]["url"]);
    assert_eq!(me["picture"], first);
    let mut names = names_of(&first);
    names.sort();
    assert_eq!(objects(&app), names);
    let thumb = app
        .get(first["thumbnail"]["url"].as_str().expect("url"), None)
        .await;
    let thumb = image::load_from_memory(&thumb.bytes().await.expect("bytes")).expect("decodes");
    assert_eq!((thumb.width(), thumb.height()), (32, 64));

    // Replaced: the old objects are gone.
    let res = send_form(
        &app,
        Method::PUT,
        "/api/v1/users/me/picture",
        Some(&token),
        picture(&encoded(120, 90, ImageFormat::Png)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.expect("picture");
    let mut names = names_of(&second);
    names.sort();
    assert_eq!(objects(&app), names);
    let me = app.get_json("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["picture_url"], second["display"]["url"]);
    let res = send_form(
        &app,
        Method::PUT,
        "/api/v1/users/me/picture",
        Some(&token),
        picture(b"GIF89a"),
    )
    .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    assert_eq!(objects(&app), names);

    // Deleted.
    assert_eq!(
        app.send(
            Method::DELETE,
            "/api/v1/users/me/picture",
            Some(&token),
            None
        )
        .await
        .status(),
        204
    );
    assert!(objects(&app).is_empty());
    let me = app.get_json("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["picture_url"], Value::Null);
    assert_eq!(me["picture"], Value::Null);
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/users/me/picture",
            Some(&token),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    assert_problem(
        app.send(Method::DELETE, "/api/v1/users/me/picture", None, None)
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    // Withdrawing the account deletes its picture.
    let res = send_form(
        &app,
        Method::PUT,
        "/api/v1/users/me/picture",
        Some(&token),
        picture(&encoded(300, 240, ImageFormat::Png)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(!objects(&app).is_empty());
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"current_password": common::USER_PASSWORD})),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert!(objects(&app).is_empty(), "{:?}", objects(&app));
    app.stop().await;
}

/// Uploads racing for a product's last places: each counts the images and
/// inserts in one turn, so exactly `images_per_product` are kept, the rest
/// are refused, and a refused upload leaves no object behind.
async fn racing_uploads_stop_at_the_cap(db: TestDb) {
    let mut s = settings(&db);
    s.media.queue_wait_ms = 30_000;
    let app = spawn_app_with(db, s).await;
    let (_, token) = app.user("seller").await;
    let product = create_product(&app, &token).await;
    let png = encoded(40, 30, ImageFormat::Png);
    let answers = futures::future::join_all(
        (0..12).map(|_| async { upload(&app, product, Some(&token), &png).await.status() }),
    )
    .await;
    let placed = answers.iter().filter(|s| s.as_u16() == 201).count();
    let refused = answers.iter().filter(|s| s.as_u16() == 409).count();
    assert_eq!((placed, refused), (3, 9), "{answers:?}");
    let detail = app
        .get_json(&format!("/api/v1/products/{product}"), None)
        .await;
    let images = detail["images"].as_array().expect("images");
    assert_eq!(images.len(), 3, "{detail}");
    let mut kept: Vec<String> = images.iter().flat_map(names_of).collect();
    kept.sort();
    assert_eq!(objects(&app), kept, "a refused upload left its objects");
    app.stop().await;
}

on_both_stores!(
    seller_uploads_and_the_shop_serves,
    uploads_are_checked_from_their_bytes,
    only_the_seller_manages_images,
    profile_picture_is_set_replaced_and_deleted,
    racing_uploads_stop_at_the_cap,
);
