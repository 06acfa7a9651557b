//! The web console in real browsers: headless Chromium and Firefox, each driven over
//! WebDriver (chromedriver and Chromium are Debian's, Firefox ESR too; geckodriver is
//! Mozilla's, from crates.io, installed by `scripts/deps.sh --tests`), click through the
//! seed tutorial's Parts 1–6 as a learner would — VPC, subnets, internet gateway, public
//! route table, NAT gateway with a new Elastic IP, peering request and accept, a gateway
//! endpoint — and then real packets prove that what was clicked works. Screenshots of
//! every step go to `target/console-screenshots/<browser>/` (and, with `VPCLAB_BLESS=1`,
//! Chromium's of those the docs show to `docs/images/console/`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::{free_port, require_root, vpclab_command, wait_until};

/// The steps whose screenshots docs/console.md shows.
const PUBLISHED: &[&str] = &[
    "dashboard",
    "igw-detached",
    "public-routes",
    "nat-with-new-eip",
    "accept-request",
    "map-traffic",
    "instance-packets",
];

#[test]
#[ignore = "needs root"]
fn the_seed_tutorial_clicked_in_chromium_carries_real_packets() {
    walk_through(Engine::Chromium);
}

#[test]
#[ignore = "needs root"]
fn the_seed_tutorial_clicked_in_firefox_carries_real_packets() {
    walk_through(Engine::Firefox);
}

/// The browsers the walk-through runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
        }
    }
}

/// `scripts/deps.sh --tests` installs geckodriver from crates.io into `target/tools`
/// (Debian does not package it); one on the `PATH` does too.
fn geckodriver() -> PathBuf {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/geckodriver");
    if local.exists() { local } else { PathBuf::from("geckodriver") }
}

/// A browser's WebDriver on a free loopback port, and the profile directory its
/// browsers use, for as long as this lives.
struct Driver {
    engine: Engine,
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    /// Starts the engine's driver; its output goes to `log`.
    fn start(engine: Engine, log: &Path) -> Self {
        let profile = std::env::temp_dir().join(format!(
            "vpclab-test-{}-{}",
            engine.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("a profile directory");
        let port = free_port();
        let mut command = match engine {
            Engine::Chromium => {
                let mut command = Command::new("chromedriver");
                command.arg(format!("--port={port}")).arg("--allowed-ips=127.0.0.1");
                command
            }
            Engine::Firefox => {
                let mut command = Command::new(geckodriver());
                command
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    // Each session's fresh profile is made in here.
                    .arg("--profile-root")
                    .arg(&profile)
                    // Firefox refuses connections beyond the machine, and (release
                    // builds honour the remote settings server preference only then)
                    // skips its remote settings.
                    .env("MOZ_DISABLE_NONLOCAL_CONNECTIONS", "1");
                command
            }
        };
        let output = std::fs::File::create(log).expect("the driver's log");
        // In a process group of its own, with the browsers it starts: see Drop.
        command.process_group(0);
        let child = command
            .stdout(output.try_clone().expect("the driver's log"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| {
                // No driver, no Driver to drop: its profile directory goes here.
                let _ = std::fs::remove_dir_all(&profile);
                panic!(
                    "{e}: {} (scripts/deps.sh --tests installs it)",
                    match engine {
                        Engine::Chromium => "chromedriver, Debian's chromium-driver",
                        Engine::Firefox => "geckodriver, from crates.io into target/tools",
                    }
                )
            });
        wait_until(
            &format!("the {} driver to listen", engine.name()),
            Duration::from_secs(20),
            Duration::from_millis(50),
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()),
        );
        Driver { engine, child, port, profile }
    }

    /// A new session's capabilities: headless, 1280×900, this profile, and nothing
    /// beyond the loopback interface (no updates, telemetry, sync or name lookups).
    fn capabilities(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut caps = serde_json::Map::new();
        match self.engine {
            Engine::Chromium => {
                caps.insert(
                    "goog:chromeOptions".into(),
                    serde_json::json!({
                        "binary": "/usr/bin/chromium",
                        "args": [
                            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            // What the flags above leave (sign-in, autofill, update and
                            // optimisation-hint lookups) resolves no name.
                            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                            "--window-size=1280,900",
                            format!("--user-data-dir={}", self.profile.display()),
                        ]
                    }),
                );
            }
            Engine::Firefox => {
                caps.insert(
                    "moz:firefoxOptions".into(),
                    serde_json::json!({
                        "binary": "/usr/bin/firefox-esr",
                        "args": ["-headless"],
                        // geckodriver already turns off data reporting, extension and
                        // app updates and the remote settings server; these too.
                        "prefs": {
                            "app.update.auto": false,
                            "browser.safebrowsing.blockedURIs.enabled": false,
                            "browser.safebrowsing.downloads.enabled": false,
                            "browser.safebrowsing.malware.enabled": false,
                            "browser.safebrowsing.phishing.enabled": false,
                            "network.captive-portal-service.enabled": false,
                            "network.connectivity-service.enabled": false,
                            "network.dns.disablePrefetch": true,
                            "network.http.speculative-parallel-limit": 0,
                            "network.prefetch-next": false,
                            "network.proxy.type": 0,
                            "network.trr.mode": 5,
                            "toolkit.telemetry.enabled": false,
                            "toolkit.telemetry.server": "",
                            // The pages' script errors go to the driver's log.
                            "devtools.console.stdout.content": true,
                        }
                    }),
                );
            }
        }
        caps
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The driver and the browsers it started: a step that failed left its session
        // open, and a browser outliving its driver would write into the profile again.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A browser session on the console, with the steps' helpers.
struct Browser {
    client: Client,
    engine: Engine,
    base: String,
    shots: PathBuf,
    step: usize,
}

impl Browser {
    async fn open(driver: &Driver, base: &str, shots: &Path) -> Self {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(driver.capabilities())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("a {} session: {e}", driver.engine.name()));
        if driver.engine == Engine::Firefox {
            // Chromium's is its --window-size.
            client.set_window_size(1280, 900).await.expect("the window's size");
        }
        Browser {
            client,
            engine: driver.engine,
            base: base.to_owned(),
            shots: shots.to_owned(),
            step: 0,
        }
    }

    /// Presses Tab until the focused element is `stop` (its text, or a form control's
    /// id), at most `presses` times; whether it got there.
    async fn tab_to(&self, stop: &str, presses: usize) -> bool {
        for _ in 0..presses {
            self.key(Key::Tab).await;
            self.settle().await;
            let Ok(focused) = self.client.active_element().await else { continue };
            let text = focused.text().await.unwrap_or_default();
            let id = focused.attr("id").await.ok().flatten().unwrap_or_default();
            if text.trim() == stop || id == stop {
                return true;
            }
        }
        false
    }

    /// Waits (bounded) until the page is no longer the one at a path ending in `path`.
    async fn left(&self, path: &str) {
        for _ in 0..100 {
            let url = self.client.current_url().await.expect("the current address");
            if !url.path().ends_with(path) {
                self.settle().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("still at {path} after 10 s");
    }

    /// Sends `key` to whatever has the focus.
    async fn key(&self, key: Key) {
        self.type_keys(&key).await;
    }

    /// Types `text` into whatever has the focus, as the keyboard does (WebDriver key
    /// actions: no element to go stale while a page is replaced).
    async fn type_keys(&self, text: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keys = KeyActions::new("keyboard".into());
        for value in text.chars() {
            keys = keys.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.client.perform_actions(keys).await.expect("keys pressed");
    }

    async fn go(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    /// Clicks the visible link (sidebar, tab, button, menu entry) with exactly this text.
    async fn link(&self, text: &str) {
        let xpath = format!("//a[normalize-space()='{text}']");
        // The page may still be loading after the last click: look again, bounded.
        for _ in 0..100 {
            self.settle().await;
            let links = self.client.find_all(Locator::XPath(&xpath)).await.unwrap_or_default();
            for link in links {
                if link.is_displayed().await.unwrap_or(false) && link.click().await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no visible link {text:?} on {}", self.client.current_url().await.unwrap());
    }

    /// Opens the page's Actions menu and picks `entry`.
    async fn action(&self, entry: &str) {
        self.client
            .find(Locator::Css("details.actions > summary"))
            .await
            .expect("Actions")
            .click()
            .await
            .unwrap();
        self.link(entry).await;
    }

    /// Clicks the button with exactly this text, and waits for the page it leads to.
    async fn button(&self, text: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.press(text).await;
        // The old document goes stale when the next one replaces it (bounded).
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.settle().await;
    }

    /// Clicks a button that changes the page in place (script), without waiting.
    async fn press(&self, text: &str) {
        self.settle().await;
        let xpath = format!("//button[normalize-space()='{text}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("button {text:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn fill(&self, id: &str, value: &str) {
        self.settle().await;
        let field =
            self.client.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("field {id}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Picks the option whose text contains `text` in select `id`.
    async fn choose(&self, id: &str, text: &str) {
        let xpath = format!("//select[@id='{id}']/option[contains(normalize-space(), '{text}')]");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("{id} option {text:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks the element with this id (a radio button).
    async fn click_id(&self, id: &str) {
        let xpath = format!("//*[@id='{id}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Ticks the checkbox with `name` and `value`.
    async fn tick(&self, name: &str, value: &str) {
        let css = format!("input[name='{name}'][value='{value}']");
        let b = self
            .client
            .find(Locator::Css(&css))
            .await
            .unwrap_or_else(|e| panic!("checkbox {css}: {e}"));
        if !b.is_selected().await.unwrap() {
            b.click().await.unwrap();
        }
    }

    /// The id at the end of the current page's path (`/console/vpcs/vpc-…`).
    async fn current_id(&self) -> String {
        self.settle().await;
        let url = self.client.current_url().await.unwrap();
        url.path().rsplit('/').next().unwrap_or_default().to_owned()
    }

    /// The main column's text, once the page has loaded (a page being replaced after a
    /// redirect answers "stale element": asked again, within a deadline).
    async fn page_text(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for _ in 0..200 {
            self.settle().await;
            if let Ok(main) = self.client.find(Locator::Css("main")).await {
                if let Ok(text) = main.text().await {
                    return text;
                }
            }
            if std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no page text on {}", self.client.current_url().await.unwrap());
    }

    /// Waits (bounded) until the document has loaded.
    async fn settle(&self) {
        for _ in 0..200 {
            let state = self.client.execute("return document.readyState", vec![]).await;
            if state.ok().and_then(|v| v.as_str().map(|s| s == "complete")).unwrap_or(false) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page must not show an API error; saves a screenshot named `what`.
    async fn shot(&mut self, what: &str) {
        let text = self.page_text().await;
        assert!(
            self.client.find_all(Locator::Css(".flash.error")).await.unwrap().is_empty(),
            "{what}: the console shows an error: {text}"
        );
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let file = format!("{:02}-{what}.png", self.step);
        std::fs::write(self.shots.join(&file), &png).unwrap();
        if std::env::var_os("VPCLAB_BLESS").is_some()
            && self.engine == Engine::Chromium
            && PUBLISHED.contains(&what)
        {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/images/console");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(&file), &png).unwrap();
        }
    }
}

/// The seed's clicks in `engine`, the packets that prove them, and what the console
/// shows of those packets.
fn walk_through(engine: Engine) {
    require_root();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/console-screenshots")
        .join(engine.name());
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let api = Api::start(true);
    let driver = Driver::start(engine, &shots.join("driver.log"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let made = runtime.block_on(click_through(&api, &driver, &shots));
    let app = prove_with_packets(&api, &made);
    runtime.block_on(see_the_packets(&api, &driver, &shots, &app, &made.nat));
    capture_from_the_console(&api, &app);
    runtime.block_on(by_keyboard(&api, &driver, &shots));
    // Firefox writes the pages' script errors to its driver's log: there must be none.
    if engine == Engine::Firefox {
        let log = std::fs::read_to_string(shots.join("driver.log")).unwrap_or_default();
        let errors: Vec<&str> =
            log.lines().filter(|l| l.starts_with("JavaScript error: http://127.0.0.1")).collect();
        assert!(
            errors.is_empty(),
            "the console's script failed in Firefox:\n{}",
            errors.join("\n")
        );
    }
}

/// Runs a command in an instance of the lab.
fn exec(api: &Api, instance: &str, command: &[&str]) -> std::process::Output {
    vpclab_command()
        .arg("--state-dir")
        .arg(&api.state)
        .arg("exec")
        .arg(instance)
        .arg("--")
        .args(command)
        .output()
        .expect("vpclab exec")
}

/// What AWS's console cannot show: with traffic flowing, the map marks the instance
/// that carries it, and the instance's Packets tab counts it.
async fn see_the_packets(api: &Api, driver: &Driver, shots: &Path, app: &str, nat: &str) {
    let mut b = Browser::open(driver, &format!("{}/console/", api.endpoint), shots).await;
    b.step = 100;
    // Pings for a while, in the background, so that two polls of the map see them grow:
    // to the peer, and to the internet through the NAT gateway.
    let ping = |to: &str| {
        vpclab_command()
            .arg("--state-dir")
            .arg(&api.state)
            .args(["exec", app, "--", "ping", "-c", "40", "-i", "0.25", to])
            .stdout(Stdio::null())
            .spawn()
            .expect("ping in the background")
    };
    let mut pinging = [ping("10.1.1.10"), ping("198.51.100.1")];
    b.go("map").await;
    let mut waiting = vec![super_node_id(app), super_node_id(nat)];
    for _ in 0..100 {
        for hot in b.client.find_all(Locator::Css("g.node.hot")).await.unwrap_or_default() {
            let title = hot.find(Locator::Css("title")).await;
            if let Ok(title) = title {
                let title = title.html(true).await.unwrap_or_default();
                waiting.retain(|node| !title.contains(node.as_str()));
            }
        }
        if waiting.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(waiting.is_empty(), "the map marks {waiting:?} as carrying packets");
    b.shot("map-traffic").await;
    b.go(&format!("instances/{app}?tab=packets")).await;
    let text = b.page_text().await;
    let sent: u64 = text
        .lines()
        .skip_while(|l| l.trim() != "Sent")
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(sent > 0, "the Packets tab counts what {app} sent: {text}");
    b.shot("instance-packets").await;
    for p in &mut pinging {
        let _ = p.kill();
        let _ = p.wait();
    }
    b.client.close().await.unwrap();
}

/// With the keyboard alone: the skip link first, then a VPC created and deleted through
/// the sidebar, the form and the Actions menu — Tab to move, Enter to follow or submit.
async fn by_keyboard(api: &Api, driver: &Driver, shots: &Path) {
    let mut b = Browser::open(driver, &format!("{}/console/", api.endpoint), shots).await;
    b.step = 200;
    b.go("").await;
    b.settle().await;
    assert!(b.tab_to("Skip to content", 1).await, "the first stop is the skip link");
    b.key(Key::Enter).await;
    let hash = b.client.execute("return location.hash", vec![]).await.unwrap();
    assert_eq!(hash.as_str(), Some("#main"));

    b.go("").await;
    b.settle().await;
    for (stop, then) in [("Your VPCs", Key::Enter), ("Create VPC", Key::Enter)] {
        assert!(b.tab_to(stop, 80).await, "Tab reaches {stop}");
        b.key(then).await;
        b.settle().await;
    }
    assert!(b.tab_to("name", 80).await, "Tab reaches the Name field");
    b.type_keys("keyboard-vpc").await;
    // Enter in a text field submits its form.
    b.key(Key::Enter).await;
    b.left("/vpcs/new").await;
    let vpc = b.current_id().await;
    assert!(vpc.starts_with("vpc-"), "the new VPC's page: {vpc}");
    let named = api.text(&["describe-vpcs", "--vpc-ids", &vpc], "Vpcs[0].Tags[?Key=='Name'].Value");
    assert_eq!(named.trim(), "keyboard-vpc");
    b.shot("keyboard-vpc").await;
    // The Actions menu opens with Enter; its entries are the next stops.
    for stop in ["Actions", "Delete VPC", "Delete"] {
        assert!(b.tab_to(stop, 80).await, "Tab reaches {stop}");
        b.key(Key::Enter).await;
        b.settle().await;
    }
    let left = api
        .text(&["describe-vpcs", "--filters", "Name=tag:Name,Values=keyboard-vpc"], "length(Vpcs)");
    assert_eq!(left.trim(), "0", "deleted from the keyboard");
    b.client.close().await.unwrap();
}

/// The map's node id of a resource id (`vpclab graph`'s).
fn super_node_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// The Packets tab's capture, as the browser posts it: a pcap of the instance's packets.
fn capture_from_the_console(api: &Api, app: &str) {
    let mut pinging = vpclab_command()
        .arg("--state-dir")
        .arg(&api.state)
        .args(["exec", app, "--", "ping", "-c", "20", "-i", "0.2", "10.1.1.10"])
        .stdout(Stdio::null())
        .spawn()
        .expect("ping in the background");
    let url = format!("{}/console/instances/{app}/capture", api.endpoint);
    let out = Command::new("curl")
        .args([
            "-s",
            "-m",
            "20",
            "-H",
            "Sec-Fetch-Site: same-origin",
            "-d",
            "seconds=3&packets=4",
            &url,
        ])
        .output()
        .expect("curl");
    let _ = pinging.kill();
    let _ = pinging.wait();
    let pcap = out.stdout;
    assert!(pcap.len() > 24, "a pcap with packets: {} bytes", pcap.len());
    // pcap's magic, in either byte order, then the link type: raw IP packets (101).
    let link = match &pcap[..4] {
        [0xa1, 0xb2, 0xc3, 0xd4] => u32::from_be_bytes(pcap[20..24].try_into().unwrap()),
        [0xd4, 0xc3, 0xb2, 0xa1] => u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
        other => panic!("not a pcap: {other:02x?}"),
    };
    assert_eq!(link, 101, "raw IP packets");
}

/// What the clicking made.
#[derive(Debug, Default)]
struct Made {
    vpc: String,
    public: String,
    private: String,
    accepter: String,
    accepter_subnet: String,
    nat: String,
}

async fn click_through(api: &Api, driver: &Driver, shots: &Path) -> Made {
    let mut b = Browser::open(driver, &format!("{}/console/", api.endpoint), shots).await;
    let mut made = Made::default();
    b.go("").await;
    b.shot("dashboard").await;

    // Part 1: a VPC.
    b.link("Your VPCs").await;
    b.link("Create VPC").await;
    b.fill("name", "my-vpc").await;
    b.fill("cidr", "10.0.0.0/16").await;
    b.shot("create-vpc").await;
    b.button("Create VPC").await;
    made.vpc = b.current_id().await;
    assert!(made.vpc.starts_with("vpc-"), "{}", made.vpc);
    b.shot("vpc-created").await;

    // Part 2: a public and a private subnet.
    for (name, cidr) in [("my-public-subnet", "10.0.1.0/24"), ("my-private-subnet", "10.0.2.0/24")]
    {
        b.link("Subnets").await;
        b.link("Create subnet").await;
        b.choose("vpc", &made.vpc).await;
        b.fill("name", name).await;
        b.choose("zone", "us-east-1a").await;
        b.fill("cidr", cidr).await;
        b.shot(&format!("create-{name}")).await;
        b.button("Create subnet").await;
        let id = b.current_id().await;
        assert!(id.starts_with("subnet-"), "{id}");
        if name.contains("public") { made.public = id } else { made.private = id }
    }

    // Part 3: an internet gateway, attached.
    b.link("Internet gateways").await;
    b.link("Create internet gateway").await;
    b.fill("name", "my-igw").await;
    b.button("Create internet gateway").await;
    let igw = b.current_id().await;
    assert!(b.page_text().await.to_lowercase().contains("detached"), "new gateways are detached");
    b.shot("igw-detached").await;
    b.action("Attach to VPC").await;
    b.choose("vpc", &made.vpc).await;
    b.button("Attach internet gateway").await;
    b.shot("igw-attached").await;

    // Part 4: the public route table: associate the public subnet, route to the gateway.
    b.link("Route tables").await;
    b.link("Create route table").await;
    b.fill("name", "my-public-rt").await;
    b.choose("vpc", &made.vpc).await;
    b.button("Create route table").await;
    let public_rt = b.current_id().await;
    b.link("Subnet associations").await;
    b.link("Edit subnet associations").await;
    b.tick("subnet", &made.public).await;
    b.button("Save associations").await;
    b.link("Routes").await;
    b.link("Edit routes").await;
    add_route(&b, "0.0.0.0/0", &igw).await;
    b.shot("public-routes").await;
    b.button("Save changes").await;
    assert!(b.page_text().await.contains(&igw), "the route shows");
    b.shot("public-route-table").await;

    // Part 5 as the seed words it: connectivity Private, in the private subnet. AWS
    // creates that (no Elastic IP; it never reaches the internet), and so does vpclab.
    b.link("NAT gateways").await;
    b.link("Create NAT gateway").await;
    b.fill("name", "seed-private-nat").await;
    b.choose("subnet", &made.private).await;
    b.click_id("connectivity_private").await;
    b.button("Create NAT gateway").await;
    let private_nat = b.current_id().await;
    assert!(private_nat.starts_with("nat-"), "{private_nat}");
    let shown = b.page_text().await;
    assert!(shown.contains("private"), "a private NAT gateway: {shown}");
    b.shot("private-nat").await;
    // For the internet access the part is about, a public one (docs/console.md says why).
    b.action("Delete NAT gateway").await;
    b.button("Delete").await;

    // Part 5: a NAT gateway with a new Elastic IP, and the private subnet's route to it.
    b.link("NAT gateways").await;
    b.link("Create NAT gateway").await;
    b.fill("name", "my-nat").await;
    b.choose("subnet", &made.public).await;
    b.click_id("connectivity_public").await;
    b.button("Allocate Elastic IP").await;
    b.shot("nat-with-new-eip").await;
    b.button("Create NAT gateway").await;
    made.nat = b.current_id().await;
    assert!(made.nat.starts_with("nat-"), "{}", made.nat);
    b.shot("nat-created").await;
    b.link("Route tables").await;
    b.link("Create route table").await;
    b.fill("name", "my-private-rt").await;
    b.choose("vpc", &made.vpc).await;
    b.button("Create route table").await;
    let private_rt = b.current_id().await;
    b.link("Edit routes").await;
    add_route(&b, "0.0.0.0/0", &made.nat).await;
    b.button("Save changes").await;
    b.link("Subnet associations").await;
    b.link("Edit subnet associations").await;
    b.tick("subnet", &made.private).await;
    b.button("Save associations").await;
    b.shot("private-route-table").await;

    // Part 6: a second VPC, a peering request, accepted, and routes both ways.
    b.link("Your VPCs").await;
    b.link("Create VPC").await;
    b.fill("name", "accepter").await;
    b.fill("cidr", "10.1.0.0/16").await;
    b.button("Create VPC").await;
    made.accepter = b.current_id().await;
    b.link("Subnets").await;
    b.link("Create subnet").await;
    b.choose("vpc", &made.accepter).await;
    b.fill("name", "accepter-subnet").await;
    b.choose("zone", "us-east-1a").await;
    b.fill("cidr", "10.1.1.0/24").await;
    b.button("Create subnet").await;
    made.accepter_subnet = b.current_id().await;
    b.link("Peering connections").await;
    b.link("Create peering connection").await;
    b.fill("name", "my-peering").await;
    b.choose("requester", &made.vpc).await;
    b.choose("accepter", &made.accepter).await;
    b.button("Create peering connection").await;
    let pcx = b.current_id().await;
    assert!(pcx.starts_with("pcx-"), "{pcx}");
    b.action("Accept request").await;
    b.shot("accept-request").await;
    b.button("Accept request").await;
    b.shot("peering-active").await;
    b.go(&format!("route-tables/{private_rt}")).await;
    b.link("Edit routes").await;
    add_route(&b, "10.1.0.0/16", &pcx).await;
    b.button("Save changes").await;
    // "Navigate back to the list of VPCs page and click on the Main route table id of
    // the accepter VPC."
    b.link("Your VPCs").await;
    b.settle().await;
    let xpath = format!(
        "//tr[td//a[normalize-space()='{}']]//a[starts-with(normalize-space(), 'rtb-')]",
        made.accepter
    );
    let main_rt = b.client.find(Locator::XPath(&xpath)).await.expect("the main route table's id");
    main_rt.click().await.unwrap();
    b.link("Edit routes").await;
    add_route(&b, "10.0.0.0/16", &pcx).await;
    b.button("Save changes").await;
    b.shot("accepter-routes").await;

    // The seed's gateway endpoint for S3, on the private route table.
    b.link("Endpoints").await;
    b.link("Create endpoint").await;
    b.fill("name", "my-s3-endpoint").await;
    b.click_id("service_com.amazonaws.us-east-1.s3").await;
    b.click_id("type_gateway").await;
    b.choose("vpc", &made.vpc).await;
    b.button("Continue").await;
    b.tick("route_table", &private_rt).await;
    b.shot("create-endpoint").await;
    b.button("Create endpoint").await;
    b.shot("endpoint-created").await;
    let _ = public_rt;

    b.link("Resource map").await;
    b.shot("resource-map").await;
    b.client.close().await.unwrap();
    made
}

/// On the Edit routes page: a new row (Add route), its destination and target.
async fn add_route(b: &Browser, destination: &str, target: &str) {
    b.press("Add route").await;
    let rows = b.client.find_all(Locator::Css("#routes tbody tr")).await.unwrap();
    let row = rows.last().expect("a new row");
    let field = row.find(Locator::Css("input[name='destination']")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(destination).await.unwrap();
    // "In the target field, select Internet Gateway and select the internet gateway."
    let kind = match target.split('-').next() {
        Some("igw") => "Internet Gateway",
        Some("nat") => "NAT Gateway",
        Some("pcx") => "Peering Connection",
        other => panic!("a target type for {other:?}"),
    };
    let xpath = format!(".//select[@name='target_type']/option[@value='{kind}']");
    row.find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("type {kind}: {e}"))
        .click()
        .await
        .unwrap();
    let xpath = format!(".//select[@name='target']//option[@value='{target}']");
    match row.find(Locator::XPath(&xpath)).await {
        Ok(option) => option.click().await.unwrap(),
        Err(e) => panic!("target {target}: {e}\nin: {}", row.html(false).await.unwrap_or_default()),
    }
}

/// Instances in what was clicked, and packets through it; the private instance's id.
fn prove_with_packets(api: &Api, made: &Made) -> String {
    let image = api.text(&["describe-images"], "Images[0].ImageId");
    let run = |subnet: &str, ip: &str, public: bool| {
        let mut args = vec![
            "run-instances",
            "--image-id",
            &image,
            "--instance-type",
            "t3.micro",
            "--subnet-id",
            subnet,
            "--private-ip-address",
            ip,
        ];
        if public {
            args.push("--associate-public-ip-address");
        }
        api.text(&args, "Instances[0].InstanceId")
    };
    let web = run(&made.public, "10.0.1.10", true);
    let app = run(&made.private, "10.0.2.10", false);
    let peer = run(&made.accepter_subnet, "10.1.1.10", false);
    // The accepter's default group lets the peer VPC ping (not part of the seed's clicks).
    let group = api.text(
        &[
            "describe-security-groups",
            "--filters",
            &format!("Name=vpc-id,Values={}", made.accepter),
            "Name=group-name,Values=default",
        ],
        "SecurityGroups[0].GroupId",
    );
    api.text(
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &group,
            "--protocol",
            "icmp",
            "--port",
            "-1",
            "--cidr",
            "10.0.0.0/16",
        ],
        "Return",
    );
    let web_ip = api.text(
        &["describe-instances", "--instance-ids", &web],
        "Reservations[0].Instances[0].PublicIpAddress",
    );
    let nat_ip = api.text(
        &["describe-nat-gateways", "--nat-gateway-ids", &made.nat],
        "NatGateways[0].NatGatewayAddresses[0].PublicIp",
    );

    let exec = |instance: &str, command: &[&str]| {
        let out = exec(api, instance, command);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let curl = |instance: &str, url: &str| {
        wait_until(
            &format!("{instance} to reach {url}"),
            Duration::from_secs(20),
            Duration::from_millis(500),
            || {
                let (ok, body) = exec(instance, &["curl", "-s", "-m", "2", url]);
                ok.then_some(body)
            },
        )
    };
    assert_eq!(
        curl(&web, "http://198.51.100.1/"),
        web_ip,
        "the public subnet, through the internet gateway"
    );
    assert_eq!(
        curl(&app, "http://198.51.100.1/"),
        nat_ip,
        "the private subnet, through the NAT gateway"
    );
    assert_eq!(
        curl(&app, "http://s3.amazonaws.com/"),
        "10.0.2.10",
        "S3 through the gateway endpoint"
    );
    let (pings, _) = exec(&app, &["ping", "-c", "1", "-W", "2", "10.1.1.10"]);
    assert!(pings, "the peered VPC ({peer})");
    app
}
