//! Database connections through the bastion (production's `via` host on the
//! local stack): a tunnel left idle and then loaded stays up; a tunnel whose
//! SSH session dies (sshd's child killed, or the network going silent) is
//! reported as the tunnel's loss with the SSH reason, not as a database
//! error; a server that never answers and a statement stuck behind a lock
//! end at their bounds with the server's own answer; a connection that
//! stops reading holds up no other.
//!
//! The idle test waits `NFOPS_TUNNEL_IDLE_SECS` (default [`IDLE_SECS`]): the
//! other tests of this binary run meanwhile, so it sets the binary's wall
//! time.

use std::process::Command;
use std::time::{Duration, Instant};

use nfops_core::ErrorCode;
use nfops_fleet::route;
use nfops_mysql::{Limits, Target};
use nfops_testkit::Stack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the idle test leaves the tunnel idle. Every timer that can end
/// an idle tunnel on this path is shorter: sshd's `ClientAliveInterval 15`
/// with the default count of 3 drops a silent client after 60 s, and the
/// console's own keepalive gives up after 15 s × (7 + 1) = 120 s
/// (`ssh/link.rs`); the idle database session's `wait_timeout` is 3600 s,
/// which no idle length a test can afford reaches (it was 600 s, which
/// proved nothing more). 150 s outlives both SSH bounds with a margin, so a
/// keepalive that stopped being sent or answered fails the test.
const IDLE_SECS: u64 = 150;

async fn production_route(stack: &Stack, env: &nfops_core::config::Environment) -> route::Route {
    route::database(
        "production",
        env,
        &*stack.creds,
        &stack.known_hosts(),
        None,
        "to test",
    )
    .await
    .expect("production's database is routed through prod-app-1")
}

async fn exec(
    c: &mut sqlx::mysql::MySqlConnection,
    t: &Target,
    sql: &str,
) -> nfops_core::Result<()> {
    sqlx::Executor::execute(&mut *c, sql)
        .await
        .map(|_| ())
        .map_err(|e| t.error("running a test statement on", e))
}

/// Local ports of this process's established connections to `port`.
fn our_ssh_ports(port: u16) -> Vec<u16> {
    let out = Command::new("ss")
        .args(["-Htnp", "state", "established"])
        .arg(format!("( dport = :{port} )"))
        .output()
        .expect("ss runs");
    let me = format!("pid={},", std::process::id());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&me))
        .filter_map(|l| {
            let local = l.split_whitespace().nth(2)?;
            local.rsplit(':').next()?.parse().ok()
        })
        .collect()
}

/// Pids of the sshd processes serving the connection from local port `from`.
fn sshd_pids_for(port: u16, from: u16) -> Vec<u32> {
    let out = Command::new("ss")
        .args(["-Htnp", "state", "established"])
        .arg(format!("( sport = :{port} and dport = :{from} )"))
        .output()
        .expect("ss runs");
    String::from_utf8_lossy(&out.stdout)
        .split("pid=")
        .skip(1)
        .filter_map(|p| p.split(',').next()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_whose_sshd_dies_is_reported_as_the_tunnel_with_the_ssh_reason() {
    let Some(stack) = Stack::from_env("a_tunnel_whose_sshd_dies_is_reported_as_the_tunnel") else {
        return;
    };
    let env = stack.env("production").clone();
    let ssh_port = stack.host("production", "prod-app-1").port;
    let before = our_ssh_ports(ssh_port);
    let route = production_route(&stack, &env).await;
    let mut c = route
        .target
        .connect()
        .await
        .expect("connects through the tunnel");
    let ours: Vec<u16> = our_ssh_ports(ssh_port)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    // The route's own session, and the one the database connection got.
    assert_eq!(
        ours.len(),
        2,
        "two new SSH connections are this route's: {ours:?}"
    );
    let pids: Vec<u32> = ours
        .iter()
        .flat_map(|p| sshd_pids_for(ssh_port, *p))
        .collect();
    assert!(
        !pids.is_empty(),
        "the sshd children serving the tunnel are found"
    );
    for pid in &pids {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let started = Instant::now();
    let err = loop {
        match exec(&mut c, &route.target, "SELECT 1").await {
            Err(e) => break e,
            Ok(()) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(()) => panic!("the connection outlived its tunnel's sshd for 30 s"),
        }
    };
    assert_eq!(
        err.code(),
        ErrorCode::SshConnect,
        "the tunnel's loss, not a database error: {err}"
    );
    assert!(
        err.message()
            .contains("SSH tunnel through host 'prod-app-1'")
            && err.message().contains("was lost:")
            && err
                .message()
                .contains("running a test statement on the production database"),
        "the message says what was being done, which tunnel and why it ended: {}",
        err.message()
    );
    // Each connection has a session of its own: a new one gets a new
    // session and works, the lost one stays lost.
    let mut again = route
        .target
        .connect()
        .await
        .expect("a new connection opens a new SSH session");
    exec(&mut again, &route.target, "SELECT 1")
        .await
        .expect("and works");
    assert!(
        exec(&mut c, &route.target, "SELECT 1").await.is_err(),
        "the connection whose session died stays broken"
    );
}

/// A TCP relay to `to` that can go silent (keeps both sockets open, moves
/// nothing): a dead network, as opposed to a closed connection.
async fn silent_relay(to: u16) -> (u16, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (mute, muted) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            for (mut r, mut w) in [
                (
                    Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                ),
                (Box::new(sr), Box::new(cw)),
            ] {
                let mut muted = muted.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match r.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if *muted.borrow_and_update() {
                            // Hold on to both halves forever: nothing moves.
                            let _ = muted.changed().await;
                            std::future::pending::<()>().await;
                        }
                        if w.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
    });
    (port, mute)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_bastion_is_detected_and_named() {
    let Some(stack) = Stack::from_env("a_silent_bastion_is_detected_and_named") else {
        return;
    };
    let mut env = stack.env("production").clone();
    let ssh_port = stack.host("production", "prod-app-1").port;
    let (relay, mute) = silent_relay(ssh_port).await;
    for h in &mut env.hosts {
        if h.get_ref().name == "prod-app-1" {
            h.get_mut().port = relay;
        }
    }
    let route = production_route(&stack, &env).await;
    let mut c = route
        .target
        .connect()
        .await
        .expect("connects through the relay");
    exec(&mut c, &route.target, "SELECT 1")
        .await
        .expect("works before the silence");
    mute.send(true).expect("mute");
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(240),
        exec(&mut c, &route.target, "SELECT 1"),
    )
    .await
    .expect("a dead peer must be detected, not waited for forever");
    let err = r.expect_err("nothing answers any more");
    let took = started.elapsed();
    assert_eq!(err.code(), ErrorCode::SshConnect, "{err}");
    assert!(
        err.message().contains("keepalives"),
        "the SSH reason (unanswered keepalives) is given: {}",
        err.message()
    );
    assert!(
        took >= Duration::from_secs(60),
        "a short silence is tolerated (more than a minute): detected after {took:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_fails_at_the_connect_bound() {
    // No stack needed: a listener that accepts and then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let t = Target {
        host: "127.0.0.1".into(),
        port,
        user: "nobody".into(),
        password: nfops_core::SecretString::new("x".into()),
        database: "nf".into(),
        label: "silent database".into(),
        carrier: None,
        limits: Limits::PROBE,
        tls: nfops_mysql::Tls::Off,
    };
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(60), t.connect())
        .await
        .expect("connect must give up by itself (it waited forever before)");
    let err = r.expect_err("no handshake, no connection");
    assert_eq!(err.code(), ErrorCode::Unreachable);
    assert!(
        err.message().contains("no answer within 5 s"),
        "the bound is named: {}",
        err.message()
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    hold.abort();
}

#[tokio::test]
async fn a_statement_stuck_behind_a_lock_ends_at_its_bound_with_the_servers_answer() {
    let Some(stack) = Stack::from_env("a_statement_stuck_behind_a_lock_ends_at_its_bound") else {
        return;
    };
    let holder_target = stack.target("staging", "newfinity");
    let mut holder = holder_target.connect().await.expect("connect");
    // A row lock held by an open transaction, as a long job or a forgotten
    // session holds one.
    exec(&mut holder, &holder_target, "BEGIN")
        .await
        .expect("begin");
    exec(
        &mut holder,
        &holder_target,
        "SELECT id FROM users WHERE id = 1 FOR UPDATE",
    )
    .await
    .expect("row locked");
    let waiter_target = Target {
        limits: Limits {
            connect: Duration::from_secs(5),
            statement: Duration::from_secs(2),
        },
        ..stack.target("staging", "newfinity")
    };
    let mut waiter = waiter_target.connect().await.expect("connect");
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        exec(
            &mut waiter,
            &waiter_target,
            "UPDATE users SET email = email WHERE id = 1",
        ),
    )
    .await
    .expect("the statement bound ends the wait (it waited for the lock before)");
    let err = r.expect_err("stopped by the server");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(err.code(), ErrorCode::Unhealthy, "{err}");
    assert!(
        err.message()
            .contains("the server answered ERROR 1969 (70100)"),
        "the server's own code and message are kept: {}",
        err.message()
    );
    exec(&mut holder, &holder_target, "ROLLBACK")
        .await
        .expect("released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_left_idle_for_minutes_then_loaded_stays_up() {
    let Some(stack) = Stack::from_env("a_tunnel_left_idle_for_minutes_then_loaded_stays_up") else {
        return;
    };
    let idle: u64 = std::env::var("NFOPS_TUNNEL_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(IDLE_SECS);
    let env = stack.env("production").clone();
    let route = production_route(&stack, &env).await;
    let t = &route.target;
    let mut c = t.connect().await.expect("connects through the tunnel");
    let table = format!("nf_tunnel_idle_{}", std::process::id());
    exec(
        &mut c,
        t,
        &format!("CREATE TABLE {table} (id INT PRIMARY KEY, body LONGTEXT)"),
    )
    .await
    .expect("table");
    // Idle: nothing on the tunnel but keepalives.
    tokio::time::sleep(Duration::from_secs(idle)).await;
    // Busy: many small round trips, then 40 MB up and back down.
    let busy = async {
        for i in 0..300 {
            exec(&mut c, t, &format!("SELECT {i}")).await?;
        }
        let body = "x".repeat(4 * 1024 * 1024);
        for i in 0..10 {
            exec(
                &mut c,
                t,
                &format!("INSERT INTO {table} VALUES ({i}, '{body}')"),
            )
            .await?;
        }
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT CAST(SUM(LENGTH(body)) AS SIGNED) FROM {table}"
        ))
        .fetch_one(&mut c)
        .await
        .map_err(|e| t.error("summing on", e))?;
        Ok::<i64, nfops_core::Error>(n)
    };
    let n = busy
        .await
        .unwrap_or_else(|e| panic!("the tunnel must carry work after {idle} s idle: {e}"));
    assert_eq!(n, 40 * 1024 * 1024, "every byte went through and back");
    exec(&mut c, t, &format!("DROP TABLE {table}"))
        .await
        .expect("cleanup");
}

/// A connection that stops reading a large result holds up no other
/// connection through the same bastion, and gets every row once it reads
/// again. Before each connection had its own SSH session, the other
/// connection's `SELECT 1` waited for the slow reader (100 s when measured):
/// russh hands incoming data to channels from inside its session loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_stops_reading_holds_up_no_other() {
    use futures::StreamExt;
    let Some(stack) = Stack::from_env("a_connection_that_stops_reading_holds_up_no_other") else {
        return;
    };
    let env = stack.env("production").clone();
    let route = production_route(&stack, &env).await;
    let t = &route.target;
    let mut slow = t.connect().await.expect("first connection");
    let mut other = t.connect().await.expect("second connection");
    const ROWS: i64 = 64;
    // 64 MiB: far more than the socket buffers, russh's per-channel queue
    // and the SSH window hold together.
    let sql = format!("SELECT REPEAT('x', 1048576) AS body FROM seq_1_to_{ROWS}");
    let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(&mut slow);
    let first = rows
        .next()
        .await
        .expect("a first row")
        .expect("the first row reads");
    assert_eq!(first.len(), 1 << 20);
    // The slow reader pauses well inside sshd's keepalive bound (about
    // 60 s), as a consumer waiting on a slow disk would.
    let pause = Instant::now();
    let mut slowest = Duration::ZERO;
    while pause.elapsed() < Duration::from_secs(20) {
        let started = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(5), exec(&mut other, t, "SELECT 1")).await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the other connection failed while the first paused: {e}"),
            Err(_) => panic!(
                "the other connection waited more than 5 s behind a paused reader ({:?} into the pause)",
                pause.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut n = 1;
    while let Some(row) = rows.next().await {
        let body = row.expect("every later row reads after the pause");
        assert_eq!(body.len(), 1 << 20, "row {n} arrives whole");
        n += 1;
    }
    assert_eq!(n, ROWS, "every row arrives after the pause");
    assert!(
        slowest < Duration::from_secs(2),
        "the other connection was never held up: slowest SELECT 1 took {slowest:?}"
    );
}

/// A reader slower than the network (64 KiB/s here, for two minutes) keeps
/// its connection through the bastion: the server's keepalive requests wait
/// behind at most the session's window of data, so they are answered well
/// inside sshd's `ClientAliveInterval 15` × 3. With russh's defaults about
/// 5 MiB waited ahead of them (80 s at this rate) and sshd cut the session
/// ("Timeout, client not responding"), as it did 10 minutes into a 1 GiB
/// backup through the bastion on a debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_keeps_its_tunnel_past_the_servers_keepalive_bound() {
    use futures::StreamExt;
    let Some(stack) = Stack::from_env("a_slow_reader_keeps_its_tunnel") else {
        return;
    };
    let env = stack.env("production").clone();
    let route = production_route(&stack, &env).await;
    let t = &route.target;
    let mut c = t.connect().await.expect("connects through the tunnel");
    const ROWS: usize = 480;
    let sql = format!("SELECT REPEAT('y', 16384) AS body FROM seq_1_to_{ROWS}");
    let started = Instant::now();
    let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(&mut c);
    let mut n = 0;
    while let Some(row) = rows.next().await {
        let body = row.unwrap_or_else(|e| {
            panic!(
                "row {n} of {ROWS}, {:?} into a slow read: {}",
                started.elapsed(),
                t.error("reading slowly from", e)
            )
        });
        assert_eq!(body.len(), 16384);
        n += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(rows);
    assert_eq!(n, ROWS, "every row arrived");
    assert!(
        started.elapsed() > Duration::from_secs(90),
        "the read outlasted sshd's keepalive bound: {:?}",
        started.elapsed()
    );
    exec(&mut c, t, "SELECT 1")
        .await
        .expect("the connection still works after the slow read");
}
