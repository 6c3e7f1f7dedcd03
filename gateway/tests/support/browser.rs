//! Headless Chromium through chromedriver (fantoccini) for the page tests
//! (the gateway's, and the example add-ons' by `#[path]`).
//! Without chromedriver the test is skipped loudly; `cargo xtask test`
//! installs it and turns a skip into a failure.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clockify_testkit::tools::{ENV_CHROMEDRIVER, ENV_CHROMIUM, tool};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// A chromedriver process and a browser session on it; the process is
/// killed when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A headless session, or `None` (after saying SKIPPED) without chromedriver.
pub async fn start(test: &str) -> Option<Browser> {
    let chromedriver = tool(ENV_CHROMEDRIVER, test)?;
    let chromium = std::env::var_os(ENV_CHROMIUM).map(std::path::PathBuf::from).filter(|p| p.is_file());
    let port = free_port();
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]});
    if let Some(bin) = &chromium {
        options["binary"] = json!(bin);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session");
    Some(Browser { client, driver })
}

/// Waits (up to 20 s, a bound rather than a speed target) until the text of
/// `css` satisfies `ok`; returns it, or fails with the last text seen.
pub async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        assert!(Instant::now() < deadline, "{css}: last text was {last:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `css` matches `n` elements.
pub async fn wait_count(c: &Client, css: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = count(c, css).await;
        if found == n {
            return;
        }
        assert!(Instant::now() < deadline, "{css}: {found} elements, expected {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of `css` now.
pub async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap_or_else(|e| panic!("{css}: {e}"))
}

pub async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0)
}

pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}
